/**
 * Child process of spec/crash.spec.ts: opens a ledger and appends from several concurrent loops
 * (single events and batches) until it is killed. Every acknowledgement is written to stdout as
 * one JSON line the moment its promise resolves, so the parent knows exactly what was acknowledged
 * before the SIGKILL.
 *
 * Usage: node --import tsx spec/helpers/crash-child.ts <ledgerPath> <durability> <round>
 *
 * Lines written (one JSON object each):
 *   {"kind":"ready","head":<sequence>}
 *   {"kind":"ack","batchId":...,"size":n,"events":[{sequence,eventId,streamId,streamVersion,contentHash,prevHash}]}
 *   {"kind":"failed","batchId":...,"error":...}   (any rejected append: a bug, the parent fails)
 *
 * Every event carries its batch in its payload ({ batchId, index, size, round }), so the parent
 * can find the members of unacknowledged batches too and check that none is partial.
 */
import { openLedger, type AppendInput } from '../../lib/index.ts';

const [ledgerPath, durabilityArg = 'full', roundArg = '0'] = process.argv.slice(2);
if (!ledgerPath) {
  process.stderr.write('usage: crash-child.ts <ledgerPath> [full|normal] [round]\n');
  process.exit(2);
}
const durability = durabilityArg === 'normal' ? 'normal' : 'full';
const round = Number(roundArg);

/** Concurrent append loops; their requests meet in the writer's group commits. */
const LOOPS = 6;
const STREAMS = 4;

function line(value: unknown): void {
  // stdout to a pipe is synchronous on Linux: the line is out before the next await.
  process.stdout.write(JSON.stringify(value) + '\n');
}

const ledger = await openLedger(ledgerPath, { durability });
line({ kind: 'ready', head: ledger.maxSequence() });

let nextBatch = 0;

async function loop(loopIndex: number): Promise<never> {
  for (;;) {
    const batchId = `r${round}-l${loopIndex}-b${nextBatch++}`;
    // Half single appends, half batches of 2..6 events.
    const size = Math.random() < 0.5 ? 1 : 2 + Math.floor(Math.random() * 5);
    const streamId = `crash-${Math.floor(Math.random() * STREAMS)}`;
    const inputs: AppendInput[] = Array.from({ length: size }, (_, index) => ({
      type: size === 1 ? 'single' : 'batched',
      streamId,
      eventId: `${batchId}-e${index}`,
      payload: { batchId, index, size, round, filler: 'x'.repeat(Math.floor(Math.random() * 200)) },
    }));
    try {
      const results = size === 1 ? [await ledger.append(inputs[0]!)] : await ledger.appendBatch(inputs);
      line({
        kind: 'ack',
        batchId,
        size,
        events: results.map((r) => ({
          sequence: r.sequence,
          eventId: r.eventId,
          streamId: r.streamId,
          streamVersion: r.streamVersion,
          contentHash: r.contentHash,
          prevHash: r.prevHash,
        })),
      });
    } catch (error) {
      const details = (error as { details?: unknown }).details;
      line({ kind: 'failed', batchId, error: String(error), details });
      process.exit(1);
    }
  }
}

await Promise.all(Array.from({ length: LOOPS }, (_, i) => loop(i)));
