/**
 * Child process of spec/shutdown.spec.ts: opens a ledger with closeOnSignals() and appends single
 * events and batches from several concurrent loops until the ledger closes under it.
 *
 * Usage: node --import tsx spec/helpers/signal-child.ts <ledgerPath>
 *
 * Lines written (one JSON object each):
 *   {"kind":"ready"}
 *   {"kind":"ack","batchId":...,"events":[{"sequence":n,"eventId":...,"contentHash":...}]}
 *   {"kind":"closed","batchId":...}      an append refused with LEDGER_CLOSED: the loop stops
 *   {"kind":"failed","batchId":...,...}  any other refusal (a bug): exits with code 3
 * Every event carries { batchId, index, size } in its payload, so the parent can check that no
 * batch is partial, acknowledged or not.
 */
import { openLedger, type AppendInput, type LedgerError } from '../../lib/index.ts';

const [ledgerPath] = process.argv.slice(2);
if (!ledgerPath) {
  process.stderr.write('usage: signal-child.ts <ledgerPath>\n');
  process.exit(2);
}

function line(value: unknown): void {
  // stdout to a pipe is synchronous on Linux: the line is out before the next await.
  process.stdout.write(JSON.stringify(value) + '\n');
}

const ledger = await openLedger(ledgerPath);
ledger.closeOnSignals();
line({ kind: 'ready' });

let nextBatch = 0;

async function loop(loopIndex: number): Promise<void> {
  for (;;) {
    const batchId = `l${loopIndex}-b${nextBatch++}`;
    const size = nextBatch % 3 === 0 ? 2 + (nextBatch % 4) : 1;
    const inputs: AppendInput[] = Array.from({ length: size }, (_, index) => ({
      type: size === 1 ? 'single' : 'batched',
      streamId: `sig-${loopIndex % 3}`,
      eventId: `${batchId}-e${index}`,
      payload: { batchId, index, size },
    }));
    try {
      const results = size === 1 ? [await ledger.append(inputs[0]!)] : await ledger.appendBatch(inputs);
      line({ kind: 'ack', batchId, events: results.map((r) => ({ sequence: r.sequence, eventId: r.eventId, contentHash: r.contentHash })) });
    } catch (error) {
      if ((error as LedgerError).code === 'LEDGER_CLOSED') {
        line({ kind: 'closed', batchId });
        return;
      }
      line({ kind: 'failed', batchId, error: String(error), details: (error as LedgerError).details });
      process.exit(3);
    }
  }
}

await Promise.all(Array.from({ length: 4 }, (_, i) => loop(i)));
