/**
 * The compiled package works without tsx: build `dist/` into a temp package folder beside a copy of
 * `native-sql/`, then open, append and read from a plain `node` child process.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { tempDir } from './helpers/temp-ledger.ts';

const root = resolve(import.meta.dirname, '..');

test('the compiled writer worker starts from dist/ with plain node', (t) => {
  const pkg = tempDir(t);
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist')], {
    encoding: 'utf8',
  });
  assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
  cpSync(join(root, 'native-sql'), join(pkg, 'native-sql'), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'));
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ type: 'module' }));
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
