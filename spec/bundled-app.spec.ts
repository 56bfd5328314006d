/**
 * Stele in an app built with a bundler: spec/fixtures/bundled-app/ bundled with esbuild for
 * Node, against the package installed in a fresh project, and run with plain `node`. With Stele
 * marked external (as README "Bundlers and Electron" says) the writer and the verification pool
 * start and the ledger works; inlined, the worker scripts and native-sql/ are not beside the
 * bundle, and openLedger fails with PACKAGE_FILES_MISSING naming the file and what to mark
 * external, in an ESM bundle and in a CommonJS one (which has no import.meta.url at all).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { buildPackage, type BuiltPackage } from './helpers/built-package.ts';
import { consumerProject, type ConsumerProject } from './helpers/consumer-project.ts';

const FIXTURE = resolve(import.meta.dirname, 'fixtures/bundled-app');
/** Stele's runtime dependencies, installed beside it as npm would. */
const DEPENDENCIES = ['better-sqlite3', 'piscina', 'superjson', 'tweetnacl', 'cli-progress', '@noble/curves', '@noble/hashes'];

let built: BuiltPackage;
let app: ConsumerProject;

before(async () => {
  built = await buildPackage();
  app = consumerProject(built, {
    packages: DEPENDENCIES,
    files: { 'app.mjs': readFileSync(join(FIXTURE, 'app.mjs'), 'utf8'), 'app.cjs': readFileSync(join(FIXTURE, 'app.cjs'), 'utf8') },
  });
});
after(() => {
  app?.remove();
  built?.remove();
});

/** Bundles `entry` of the app into out/, runs it with plain node on a new ledger path, returns its JSON line. */
async function bundleAndRun(entry: string, format: 'esm' | 'cjs', external: string[]): Promise<Record<string, unknown>> {
  const outfile = join(app.dir, 'out', `${entry}-${external.length}.${format === 'esm' ? 'mjs' : 'cjs'}`);
  await build({
    entryPoints: [join(app.dir, entry)],
    absWorkingDir: app.dir,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format,
    outfile,
    external,
    logLevel: 'silent',
    // What esbuild's docs give ESM bundles of CommonJS dependencies that require Node builtins.
    banner: format === 'esm' ? { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" } : {},
  });
  const ledger = join(app.dir, `${entry}-${format}-${external.length}.db`);
  const { stdout } = await promisify(execFile)(process.execPath, [outfile, ledger], { cwd: app.dir });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

test('an ESM bundle with stele and better-sqlite3 external: the writer and the verification pool start', async () => {
  const outcome = await bundleAndRun('app.mjs', 'esm', ['stele', 'better-sqlite3']);
  assert.deepEqual(outcome, { sequences: [1, 2], verified: true, file: { ok: true, checked: 2 } });
});

test('an ESM bundle with Stele inlined fails at openLedger with PACKAGE_FILES_MISSING, saying what to mark external', async () => {
  const outcome = await bundleAndRun('app.mjs', 'esm', ['better-sqlite3']);
  assert.equal(outcome.code, 'PACKAGE_FILES_MISSING');
  assert.deepEqual(outcome.details, { file: 'dist/writer/writer-worker.js', expectedAt: join(app.dir, 'writer/writer-worker.js') });
  assert.match(outcome.message as string, /--external:stele --external:better-sqlite3/);
  assert.ok(!existsSync(join(app.dir, 'app.mjs-esm-1.db')), 'no ledger file is left behind');
});

test('a CommonJS bundle with Stele inlined loads, and fails at openLedger with PACKAGE_FILES_MISSING', async () => {
  const outcome = await bundleAndRun('app.cjs', 'cjs', ['better-sqlite3']);
  assert.equal(outcome.code, 'PACKAGE_FILES_MISSING');
  assert.deepEqual(outcome.details, { file: 'dist/writer/writer-worker.js', expectedAt: null });
});

test('a CommonJS bundle with stele and better-sqlite3 external works', async () => {
  const outcome = await bundleAndRun('app.cjs', 'cjs', ['stele', 'better-sqlite3']);
  assert.deepEqual(outcome, { file: { ok: true, checked: 1 } });
});
