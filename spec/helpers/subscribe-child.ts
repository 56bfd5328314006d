/**
 * Child process of spec/subscribe.spec.ts: the writer in another process. Opens the ledger for
 * writing (the parent holds it read-only and subscribes), appends one request per given batch
 * size, one after another, then appends a heartbeat event every 10 ms until it reads the line
 * `stop` on stdin (or stdin ends); then closes the ledger and exits 0.
 *
 * Why heartbeats: a file notification can arrive before the commit it announces is visible (the
 * writer syncs the WAL, then publishes the commit), and nothing is written after that. The
 * parent waits without a safety timer, so each commit must be followed by a later notification.
 *
 * Usage: node --import tsx spec/helpers/subscribe-child.ts <ledgerPath> <size,size,...>
 *
 * Lines written (one JSON object each):
 *   {"kind":"ack","events":[{"sequence":n,"eventId":"..."}]}   per acknowledged request (not heartbeats)
 *   {"kind":"acked_all"}                                         after the last request
 * Event ids are `child-<request>-<index>`; events of odd requests go to stream `odd`, with type
 * `tick`; of even requests to stream `even`, with type `tock`. Heartbeats: stream `hb`, type
 * `heartbeat`.
 */
import { createInterface } from 'node:readline';
import { openLedger } from '../../lib/index.ts';

const [ledgerPath, sizesArg] = process.argv.slice(2);
if (!ledgerPath || !sizesArg) {
  process.stderr.write('usage: subscribe-child.ts <ledgerPath> <size,size,...>\n');
  process.exit(2);
}
const sizes = sizesArg.split(',').map(Number);

function line(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

let stopped = false;
const stop = new Promise<void>((resolve) => {
  const lines = createInterface({ input: process.stdin });
  const done = () => {
    stopped = true;
    resolve();
  };
  lines.on('line', (text) => text.trim() === 'stop' && done());
  lines.on('close', done);
});

const ledger = await openLedger(ledgerPath);
for (const [request, size] of sizes.entries()) {
  const odd = request % 2 === 1;
  const results = await ledger.appendBatch(
    Array.from({ length: size }, (_, index) => ({
      type: odd ? 'tick' : 'tock',
      eventId: `child-${request}-${index}`,
      payload: { request, index },
    })),
    { streamId: odd ? 'odd' : 'even' },
  );
  line({ kind: 'ack', events: results.map((r) => ({ sequence: r.sequence, eventId: r.eventId })) });
}
line({ kind: 'acked_all' });
while (!stopped) {
  await ledger.append({ type: 'heartbeat', streamId: 'hb' });
  await Promise.race([stop, new Promise((resolve) => setTimeout(resolve, 10))]);
}
await ledger.close();
