/**
 * Where a worker's code is: the compiled `.js` beside this file when Stele runs from `dist/`,
 * or the `.ts` source behind a small tsx shim when it runs from source.
 * @internal
 */

export interface WorkerScript {
  /** What to pass to `new Worker()` or piscina's `filename`. */
  filename: URL;
  /** Extra `workerData` the shim needs to find the entry; empty when running compiled code. */
  workerData: { tsEntry?: string };
}

/** `entry` is relative to `lib/` (or `dist/`), without extension, e.g. `'writer/writer-worker'`. This file sits one folder below. */
export function workerScript(entry: string): WorkerScript {
  if (import.meta.url.endsWith('.ts')) {
    return {
      filename: new URL('./ts-worker-shim.mjs', import.meta.url),
      workerData: { tsEntry: new URL(`../${entry}.ts`, import.meta.url).href },
    };
  }
  return { filename: new URL(`../${entry}.js`, import.meta.url), workerData: {} };
}
