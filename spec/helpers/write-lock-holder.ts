/**
 * Spec helper: another process holding a ledger file's SQLite write lock
 * (spec/fixtures/processes/file-locker.ts), for specs of contention, retries and bounded close.
 */
import type { TestContext } from 'node:test';
import { runChild } from './run-child.ts';

const FILE_LOCKER = new URL('../fixtures/processes/file-locker.ts', import.meta.url);

export interface WriteLockHolder {
  /** Tells a holder started without `holdMs` to roll back. */
  release(): void;
  /** Resolves with how long the holder held the lock, once it has rolled back. */
  released: Promise<number>;
}

/** Starts a process that holds the write lock of `path` (for `holdMs`, or until released); resolves once it holds it. */
export async function holdWriteLock(t: TestContext, path: string, holdMs?: number): Promise<WriteLockHolder> {
  const child = runChild(t, FILE_LOCKER, [path, ...(holdMs === undefined ? [] : [String(holdMs)])], { stdin: true, stderr: 'pipe' });
  const first = await child.next();
  if (first !== 'locked') throw new Error(`the lock holder said ${JSON.stringify(first)} instead of 'locked'`);
  const released = child.until((line) => String(line).startsWith('released ')).then((line) => Number(String(line).slice('released '.length)));
  // Awaited by the specs that release; a holder killed at the end of a test must not be an unhandled rejection.
  released.catch(() => undefined);
  return { release: () => child.send('release'), released };
}
