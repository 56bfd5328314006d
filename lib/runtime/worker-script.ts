/**
 * Where a worker's code is: the compiled `.js` beside this file when Stele runs from `dist/`,
 * or the `.ts` source behind a small tsx shim when it runs from source.
 *
 * A bundler that inlines Stele into an app moves this code away from the worker scripts (and
 * from `native-sql/`), which a worker thread must load from files; a CommonJS bundle even loses
 * `import.meta.url`. Rather than a worker failing with a bare "Cannot find module", the script
 * is looked for first and its absence is PACKAGE_FILES_MISSING, saying what to mark external.
 * @internal
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LedgerError } from '../errors.ts';

export interface WorkerScript {
  /** What to pass to `new Worker()` or piscina's `filename`. */
  filename: URL;
  /** Extra `workerData` the shim needs to find the entry; empty when running compiled code. */
  workerData: { tsEntry?: string };
}

/** This module's URL; undefined in a CommonJS bundle, where `import.meta` is an empty object. */
const HERE: string | undefined = typeof import.meta.url === 'string' ? import.meta.url : undefined;

/**
 * A file of the installed package, relative to `lib/` (or `dist/`), which sits one folder
 * below the package root as this file's folder sits one below `lib/`: `undefined` when there
 * is no module URL to resolve it from.
 */
export function packageFile(relative: string): URL | undefined {
  return HERE === undefined ? undefined : new URL(`../${relative}`, HERE);
}

/** `entry` is relative to `lib/` (or `dist/`), without extension, e.g. `'writer/writer-worker'`. */
export function workerScript(entry: string): WorkerScript {
  if (HERE?.endsWith('.ts')) {
    return {
      filename: new URL('./ts-worker-shim.mjs', HERE),
      workerData: { tsEntry: new URL(`../${entry}.ts`, HERE).href },
    };
  }
  const filename = packageFile(`${entry}.js`);
  if (filename === undefined || !existsSync(filename)) throw packageFilesMissing(`dist/${entry}.js`, filename);
  return { filename, workerData: {} };
}

/** PACKAGE_FILES_MISSING for a file of the package (`dist/...` or `native-sql/`) that is not at `expectedAt`. */
export function packageFilesMissing(file: string, expectedAt: URL | undefined): LedgerError {
  const where = expectedAt === undefined ? 'anywhere (no import.meta.url: a CommonJS bundle)' : fileURLToPath(expectedAt);
  return LedgerError.of(
    'PACKAGE_FILES_MISSING',
    { file, expectedAt: expectedAt === undefined ? null : fileURLToPath(expectedAt) },
    `Stele's ${file} is not at ${where}; with esbuild: --external:stele --external:better-sqlite3 (or --packages=external), and ship node_modules/stele with the app`,
  );
}
