/**
 * The pools of worker threads Stele runs CPU work on (verify's ranges, the append path's
 * signature checks): one per worker script, created on first use, at most one thread per core
 * (and 4), none kept while idle, so that they never keep the process alive.
 * @internal
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { workerScript } from './worker-script.ts';

const MAX_THREADS = 4;
/** Idle pool threads exit after this; piscina unrefs them meanwhile. */
const IDLE_TIMEOUT_MS = 10_000;

/** Threads a pool runs at most: one per core, at most 4. */
export function poolThreads(): number {
  return Math.max(1, Math.min(availableParallelism(), MAX_THREADS));
}

/**
 * The pool of `script` (a worker script as `workerScript` names it, e.g. 'verify/verify-worker'),
 * created at the first call.
 */
export function threadPool<Task, Result>(script: string): () => Piscina<Task, Result> {
  let pool: Piscina<Task, Result> | undefined;
  return () => {
    if (pool) return pool;
    const { filename, workerData } = workerScript(script);
    pool = new Piscina<Task, Result>({ filename: filename.href, workerData: { ...workerData }, minThreads: 0, maxThreads: poolThreads(), idleTimeout: IDLE_TIMEOUT_MS });
    return pool;
  };
}
