/**
 * The folder rules of ARCHITECTURE.md, checked on the import graph of lib/ as the TypeScript
 * compiler parses it (type-only imports included): no cycles; worker threads never reach
 * main-thread code; format/ is pure; only the public surface, the CLI and the replica tools reach
 * into ledger/; no file grows past 450 lines.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';

const ROOT = resolve(import.meta.dirname, '..');
const LIB = join(ROOT, 'lib');

/** Every .ts file of lib/, relative to lib/ with forward slashes. */
function libFiles(dir = LIB): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return libFiles(path);
    return entry.name.endsWith('.ts') ? [relative(LIB, path).split('\\').join('/')] : [];
  });
}

interface Import {
  /** A lib/ file (relative to lib/) or a bare package / node: specifier. */
  target: string;
  typeOnly: boolean;
}

/** The imports and re-exports of one file, as the compiler sees them. */
function importsOf(file: string): Import[] {
  const source = ts.createSourceFile(file, readFileSync(join(LIB, file), 'utf8'), ts.ScriptTarget.Latest, true);
  const found: Import[] = [];
  const add = (specifier: ts.Expression | undefined, typeOnly: boolean) => {
    if (!specifier || !ts.isStringLiteral(specifier)) return;
    const text = specifier.text;
    const target = text.startsWith('.') ? relative(LIB, resolve(dirname(join(LIB, file)), text)).split('\\').join('/') : text;
    found.push({ target, typeOnly });
  };
  source.forEachChild((node) => {
    if (ts.isImportDeclaration(node)) add(node.moduleSpecifier, node.importClause?.isTypeOnly === true);
    if (ts.isExportDeclaration(node)) add(node.moduleSpecifier, node.isTypeOnly);
  });
  return found;
}

const files = libFiles();
const graph = new Map(files.map((file) => [file, importsOf(file)]));
const local = (file: string) => graph.get(file)!.filter((i) => graph.has(i.target));

/** Modules that run only on the app's main thread: a worker that reached one would load it. */
const MAIN_SIDE = [
  /^index\.ts$/,
  /^ledger\//,
  /^cli\//,
  /^writer\/(writer-client|spawn-writer|admission|fifo)\.ts$/,
  /^replication\/(replica-set|file-copy-replicator|replica-tools)\.ts$/,
  /^verify\/verify-ledger-file\.ts$/,
];

function reachable(from: string): Set<string> {
  const seen = new Set<string>();
  const stack = [from];
  while (stack.length > 0) {
    for (const { target } of local(stack.pop()!)) {
      if (!seen.has(target)) {
        seen.add(target);
        stack.push(target);
      }
    }
  }
  return seen;
}

test('lib/ has no import cycle, type-only imports included', () => {
  const cycles: string[] = [];
  for (const file of files) {
    if (reachable(file).has(file)) cycles.push(file);
  }
  assert.deepEqual(cycles, [], `files on an import cycle: ${cycles.join(', ')}`);
});

test('a worker entry reaches no main-thread module, and imports directly only its protocol, its own folder, format/, sqlite/ and errors.ts', () => {
  const workers = files.filter((file) => file.endsWith('-worker.ts'));
  assert.ok(workers.length >= 3, `expected the writer, verify and file-copy workers, found ${workers.join(', ')}`);
  for (const worker of workers) {
    const reached = [...reachable(worker)].filter((file) => MAIN_SIDE.some((rule) => rule.test(file)));
    assert.deepEqual(reached, [], `${worker} reaches main-thread modules`);
    const folder = dirname(worker);
    for (const { target } of local(worker)) {
      const allowed = target.startsWith('format/') || target.startsWith('sqlite/') || target === 'errors.ts' || dirname(target) === folder;
      assert.ok(allowed, `${worker} imports ${target}`);
    }
  }
});

test('format/ is pure: no better-sqlite3, no thread or file-system code, nothing of the other folders but the errors and the event shapes', () => {
  for (const file of files.filter((f) => f.startsWith('format/'))) {
    for (const { target } of graph.get(file)!) {
      assert.ok(!['better-sqlite3', 'node:worker_threads', 'node:fs', 'piscina'].includes(target), `${file} imports ${target}`);
      if (!graph.has(target)) continue;
      const allowed = target.startsWith('format/') || target === 'errors.ts' || target === 'event.ts';
      assert.ok(allowed, `${file} imports ${target}`);
    }
  }
});

test('the stele/signing entry reaches no node: module and no better-sqlite3, type-only imports included', () => {
  const reached = ['signing.ts', ...reachable('signing.ts')];
  const outside = reached.flatMap((file) => graph.get(file)!.filter((i) => !graph.has(i.target) && (i.target.startsWith('node:') || i.target === 'better-sqlite3')).map((i) => `${file} → ${i.target}`));
  assert.deepEqual(outside, []);
  assert.ok(reached.includes('format/value-codec.ts') && !reached.includes('format/hash-bytes.ts'));
});

test('only index.ts, cli/ and the replica tools import ledger/ from outside it', () => {
  for (const file of files.filter((f) => !f.startsWith('ledger/'))) {
    const intoLedger = local(file).filter((i) => i.target.startsWith('ledger/'));
    if (intoLedger.length === 0) continue;
    const allowed = file === 'index.ts' || file.startsWith('cli/') || file === 'replication/replica-tools.ts';
    assert.ok(allowed, `${file} imports ${intoLedger.map((i) => i.target).join(', ')}`);
  }
});

test('every file of lib/ is under 450 lines', () => {
  const long = files
    .map((file) => ({ file, lines: readFileSync(join(LIB, file), 'utf8').split('\n').length }))
    .filter(({ lines }) => lines >= 450);
  assert.deepEqual(long, []);
});

test('the graph the rules read is the real one: known edges are found', () => {
  // The checks above pass on lib/; this shows they read real edges, so passing is not vacuous.
  assert.ok(files.includes('ledger/ledger.ts') && files.includes('writer/writer-worker.ts'));
  assert.ok(reachable('ledger/open-ledger.ts').has('ledger/ledger.ts'));
  assert.ok(reachable('writer/writer-worker.ts').has('sqlite/connections.ts'));
  assert.ok(MAIN_SIDE.some((rule) => rule.test('writer/writer-client.ts')));
});
