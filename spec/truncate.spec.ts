/**
 * A ledger file truncated under a process that reads it: the read fails with an error, the
 * process lives. Read connections use no memory map (lib/sqlite/connections.ts READ_MMAP_BYTES):
 * a mapped page past the new end of the file is a SIGBUS, which no JavaScript can catch.
 */
import assert from 'node:assert/strict';
import { truncateSync } from 'node:fs';
import { test } from 'node:test';
import { openLedger } from '../lib/index.ts';
import { runChild } from './helpers/run-child.ts';
import { tempLedgerPath } from './helpers/temp-ledger.ts';

test('truncating the file under a read-only reader fails its reads; the process is not killed by SIGBUS', async (t) => {
  const path = tempLedgerPath(t);
  const events = 3_000;
  const ledger = await openLedger(path);
  await ledger.appendBatch(Array.from({ length: events }, (_, i) => ({ type: 'tick', payload: { i, pad: 'x'.repeat(200) } })));
  await ledger.close();
  const child = runChild(t, new URL('./fixtures/processes/read-after-truncate.ts', import.meta.url), [path, String(events)], { stdin: true, stderr: 'pipe' });
  assert.equal(await child.next(), 'ready');
  truncateSync(path, 8_192);
  child.send('go');
  const outcome = (await child.next().catch(() => undefined)) as { ok?: number; error?: string } | undefined;
  const exit = await child.exited;
  assert.deepEqual(exit, { code: 0, signal: null }, child.stderr());
  assert.ok(outcome?.error !== undefined, `the reads after truncation did not fail: ${JSON.stringify(outcome)}`);
});
