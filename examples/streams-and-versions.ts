/**
 * Streams and expected versions: optimistic concurrency for a bank account. Two tellers read the
 * same balance and both try to withdraw; the second one is told the stream moved on, re-reads
 * and decides again. Run with `npx tsx examples/streams-and-versions.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLedgerError, openLedger, type Ledger } from 'stele';

const dir = mkdtempSync(join(tmpdir(), 'stele-streams-'));
const ledger = await openLedger(join(dir, 'bank.db'));
const account = 'account-ada';

function balance(l: Ledger): { cents: bigint; version: number | undefined } {
  let cents = 0n;
  for (const event of l.readStream(account)) {
    const { amount } = event.payload as { amount: bigint };
    cents += event.type === 'deposited' ? amount : -amount;
  }
  return { cents, version: l.streamVersion(account) };
}

await ledger.append({ type: 'account_opened', streamId: account, payload: { amount: 0n }, expectedVersion: 'no_stream' });
await ledger.append({ type: 'deposited', streamId: account, payload: { amount: 10_000n }, expectedVersion: 0 });

// Both tellers read version 1 and a balance of 100.00.
const seenByA = balance(ledger);
const seenByB = balance(ledger);
console.log(`both tellers see ${seenByA.cents} cents at version ${seenByA.version}`);

await ledger.append({ type: 'withdrawn', streamId: account, payload: { amount: 8_000n }, expectedVersion: seenByA.version! });
console.log('teller A withdrew 8000 cents');

try {
  await ledger.append({ type: 'withdrawn', streamId: account, payload: { amount: 5_000n }, expectedVersion: seenByB.version! });
  throw new Error('teller B must not overdraw the account');
} catch (error) {
  if (!isLedgerError(error, 'WRONG_EXPECTED_VERSION')) throw error;
  console.log(`teller B refused: expected version ${error.details.expected}, actual ${error.details.actual}`);
  const now = balance(ledger);
  console.log(`teller B re-reads: ${now.cents} cents at version ${now.version}; 5000 would overdraw, so B withdraws 2000`);
  await ledger.append({ type: 'withdrawn', streamId: account, payload: { amount: 2_000n }, expectedVersion: now.version! });
}

const final = balance(ledger);
console.log(`final balance ${final.cents} cents, ${ledger.readStream(account).length} events in ${account}`);
await ledger.close();
rmSync(dir, { recursive: true, force: true });
if (final.cents !== 0n) process.exit(1);
