/**
 * Quickstart: open a ledger, append from many concurrent callers, read everything back in
 * gap-free order, and check the hash chain. Run with `npm run demo`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLedger } from 'stele';

const dir = mkdtempSync(join(tmpdir(), 'stele-quickstart-'));
const ledger = await openLedger(join(dir, 'audit.db'));

// 100 callers append at once, as requests in a server would; the writer group-commits them.
const users = ['ada', 'grace', 'linus', 'barbara'];
const results = await Promise.all(
  Array.from({ length: 100 }, (_, i) =>
    ledger.append({
      type: i % 2 === 0 ? 'user_login' : 'user_logout',
      streamId: `user-${users[i % users.length]}`,
      payload: { at: new Date(), attempt: i },
    }),
  ),
);
console.log(`appended ${results.length} events from 100 concurrent callers`);

// A batch is atomic and can demand the stream's state it was decided on.
await ledger.appendBatch(
  [
    { type: 'order_placed', payload: { sku: 'A-1', cents: 1250n } },
    { type: 'order_paid', payload: { method: 'card' } },
  ],
  { streamId: 'order-42', expectedVersion: 'no_stream' },
);

const events = ledger.readAll();
const gapFree = events.every((event, i) => event.sequence === i + 1);
const linked = events.every((event, i) => i === 0 || event.prevHash === events[i - 1]!.contentHash);
console.log(`read back ${events.length} events: sequences 1..${ledger.maxSequence()}, gap-free: ${gapFree}, hash-linked: ${linked}`);
console.log(`stream user-ada is at version ${ledger.streamVersion('user-ada')}`);
const order = ledger.readStream('order-42');
console.log(`order-42: ${order.map((e) => `${e.type} (v${e.streamVersion})`).join(', ')}; total ${String((order[0]!.payload as { cents: bigint }).cents)} cents (a BigInt)`);
console.log(`head: #${ledger.head()!.sequence} ${ledger.head()!.contentHash}`);

await ledger.close();
rmSync(dir, { recursive: true, force: true });
if (!gapFree || !linked) process.exit(1);
