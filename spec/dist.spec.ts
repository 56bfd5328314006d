/**
 * The compiled package works without tsx: build `dist/` into a temp package folder beside a copy of
 * `native-sql/`, then open, append and read from a plain `node` child process.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildPackage } from './helpers/built-package.ts';

test('the compiled writer worker starts from dist/ with plain node', async (t) => {
  const { dir: pkg, remove } = await buildPackage();
  t.after(remove);
  writeFileSync(
    join(pkg, 'check.mjs'),
    `import { openLedger } from './dist/index.js';
const ledger = await openLedger(process.argv[2]);
const results = await Promise.all([1, 2, 3].map((n) => ledger.append({ type: 'compiled', payload: { n } })));
const back = ledger.readAll().map((e) => e.payload.n);
await ledger.close();
console.log(JSON.stringify({ sequences: results.map((r) => r.sequence), back }));`,
  );
  const run = spawnSync(process.execPath, [join(pkg, 'check.mjs'), join(pkg, 'ledger.db')], { encoding: 'utf8', cwd: pkg });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), { sequences: [1, 2, 3], back: [1, 2, 3] });
});
