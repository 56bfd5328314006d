/**
 * The shipped declarations type-check in a user's strict project: the package built, installed
 * into a fresh project with only what a user has (the runtime dependency better-sqlite3, zod and
 * @types/node; no @types/better-sqlite3, a devDependency of Stele), and
 * spec/package/typed-consumer/app.ts compiled with `skipLibCheck: false` under `module: nodenext`
 * and under `moduleResolution: bundler`. The app's typed appends compile, and its one wrong
 * payload (marked `@ts-expect-error`) fails to compile once the mark is removed. A browser app
 * (spec/package/browser-consumer/) type-checks against `stele/signing` and `stele/proofs` with
 * no @types/node at all.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import ts from 'typescript';
import { buildPackage, type BuiltPackage } from './helpers/built-package.ts';
import { consumerProject, type ConsumerProject } from './helpers/consumer-project.ts';

const ROOT = resolve(import.meta.dirname, '..');
const FIXTURE = join(ROOT, 'spec/package/typed-consumer');
const BROWSER_FIXTURE = join(ROOT, 'spec/package/browser-consumer');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

/** Runs tsc in `dir`; resolves with its exit code and the error lines (`file(line,col): error TSnnnn: ...`). */
async function tsc(dir: string, args: string[]): Promise<{ code: number; errors: string[] }> {
  try {
    await promisify(execFile)(process.execPath, [TSC, ...args], { cwd: dir });
    return { code: 0, errors: [] };
  } catch (error) {
    const { code, stdout } = error as { code: number; stdout: string };
    return { code, errors: stdout.split('\n').filter((line) => / error TS\d+/.test(line)) };
  }
}

let built: BuiltPackage;
let app: ConsumerProject;

before(async () => {
  built = await buildPackage();
  const files = Object.fromEntries(readdirSync(FIXTURE).map((name) => [name, readFileSync(join(FIXTURE, name), 'utf8')]));
  app = consumerProject(built, { packages: ['better-sqlite3', 'zod', '@types/node'], files });
});
after(() => {
  app?.remove();
  built?.remove();
});

test('the project cannot see better-sqlite3 types: a declaration that used them would fail here (TS7016)', async () => {
  const probe = consumerProject(built, {
    packages: ['better-sqlite3', '@types/node'],
    files: { 'probe.ts': "import type Database from 'better-sqlite3';\nexport type Db = Database.Database;\n" },
  });
  try {
    const { code, errors } = await tsc(probe.dir, ['--noEmit', '--strict', '--module', 'nodenext', '--skipLibCheck', 'false', 'probe.ts']);
    assert.equal(code, 2);
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0]!, /^probe\.ts\(1,27\): error TS7016: Could not find a declaration file for module 'better-sqlite3'/);
  } finally {
    probe.remove();
  }
});

/**
 * The packages the declarations of one entry reach, each with the chain of files that leads to
 * it: the graph of `import`/`export ... from`/`import()` in the emitted .d.ts files (comments,
 * such as the examples in JSDoc, are not imports).
 */
function packagesReached(entry: string): Map<string, string> {
  const reached = new Map<string, string>();
  const seen = new Set<string>();
  const stack: [string, string[]][] = [[entry, []]];
  while (stack.length > 0) {
    const [file, chain] = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const here = [...chain, relative(join(app.dir, 'node_modules/stele'), file)];
    for (const { fileName } of ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles) {
      if (!fileName.startsWith('.')) {
        if (!reached.has(fileName)) reached.set(fileName, here.join(' > '));
        continue;
      }
      const target = resolve(dirname(file), fileName).replace(/\.(js|ts)$/, '.d.ts');
      assert.ok(existsSync(target), `${file} imports ${fileName}, which is not shipped`);
      stack.push([target, here]);
    }
  }
  return reached;
}

test('the declarations of each entry reach no package a user may lack: stele only node: builtins, stele/proofs and stele/signing nothing', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, { types?: string }> };
  const entries = Object.entries(pkg.exports).filter(([, target]) => typeof target === 'object' && target.types);
  assert.deepEqual(entries.map(([name]) => name), ['.', './proofs', './signing', './postgres']);
  const allowed: Record<string, (name: string) => boolean> = {
    '.': (name) => name.startsWith('node:'),
    './proofs': () => false,
    './signing': () => false,
    './postgres': (name) => name.startsWith('node:'),
  };
  for (const [name, target] of entries) {
    const reached = packagesReached(join(app.dir, 'node_modules/stele', target.types!));
    const outside = [...reached].filter(([spec]) => !allowed[name]!(spec)).map(([spec, chain]) => `${spec} via ${chain}`);
    assert.deepEqual(outside, [], `the declarations of ${name}`);
  }
});

for (const config of ['nodenext', 'bundler']) {
  test(`a strict app type-checks against the shipped declarations with skipLibCheck off (${config})`, async () => {
    const { code, errors } = await tsc(app.dir, ['-p', `tsconfig.${config}.json`]);
    assert.deepEqual(errors, []);
    assert.equal(code, 0);
  });
}

test('a wrong typed payload fails to compile (TS2345 on the append), in both settings', async () => {
  const source = readFileSync(join(app.dir, 'app.ts'), 'utf8').split('\n');
  const mark = source.findIndex((line) => line.includes('@ts-expect-error a wrong payload'));
  assert.ok(mark > 0);
  const wrong = consumerProject(built, {
    packages: ['better-sqlite3', 'zod', '@types/node'],
    files: {
      // The mark removed: its line is left blank so the wrong append keeps its line number.
      'app.ts': source.map((line, i) => (i === mark ? '' : line)).join('\n'),
      'tsconfig.nodenext.json': readFileSync(join(FIXTURE, 'tsconfig.nodenext.json'), 'utf8'),
      'tsconfig.bundler.json': readFileSync(join(FIXTURE, 'tsconfig.bundler.json'), 'utf8'),
    },
  });
  try {
    const line = mark + 2;
    for (const config of ['nodenext', 'bundler']) {
      const { code, errors } = await tsc(wrong.dir, ['-p', `tsconfig.${config}.json`]);
      assert.equal(code, 2, config);
      assert.equal(errors.length, 1, errors.join('\n'));
      assert.ok(
        errors[0]!.startsWith(`app.ts(${line},23): error TS2345: Argument of type '{ type: "order_placed"; payload: { orderId: string; total: string; }; }' is not assignable`),
        errors[0],
      );
    }
  } finally {
    wrong.remove();
  }
});

test('a browser app type-checks against stele/signing and stele/proofs with no @types/node installed', async () => {
  const files = Object.fromEntries(readdirSync(BROWSER_FIXTURE).map((name) => [name, readFileSync(join(BROWSER_FIXTURE, name), 'utf8')]));
  const browser = consumerProject(built, { files });
  try {
    assert.ok(!existsSync(join(browser.dir, 'node_modules/@types')));
    const { code, errors } = await tsc(browser.dir, ['-p', 'tsconfig.json']);
    assert.deepEqual(errors, []);
    assert.equal(code, 0);
  } finally {
    browser.remove();
  }
});
