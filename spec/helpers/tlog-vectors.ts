/**
 * The transparency-log test data shared beside the repository (`../shared/tlog/`: vectors
 * from transparency-dev/merkle and the known-answers page), read in place, never copied in.
 * When the folder is absent a spec skips, except under CI=true, where a missing folder must
 * fail rather than pass by testing nothing.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

const REPO_ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** Where the shared tlog data lives: `<repo>/../shared/tlog`. */
export const TLOG_DIR = path.resolve(REPO_ROOT, '../shared/tlog');

/**
 * True when the shared data is there. Otherwise skips the test (or, under CI, fails it).
 */
export function requireTlogData(t: TestContext): boolean {
  if (existsSync(path.join(TLOG_DIR, 'vectors'))) return true;
  const message = `the shared transparency-log test data is not at ${TLOG_DIR}`;
  if (process.env.CI === 'true') throw new Error(`${message}; CI must have it`);
  t.skip(message);
  return false;
}

/** One vector file: its path relative to vectors/ and its parsed JSON. */
export interface VectorFile<T> {
  name: string;
  data: T;
}

/** Every JSON file under vectors/<kind>/, recursively, sorted by path. */
export function readVectors<T>(kind: 'inclusion' | 'consistency'): Array<VectorFile<T>> {
  const root = path.join(TLOG_DIR, 'vectors', kind);
  const walk = (dir: string): string[] =>
    readdirSync(dir)
      .sort()
      .flatMap((entry) => {
        const full = path.join(dir, entry);
        return statSync(full).isDirectory() ? walk(full) : entry.endsWith('.json') ? [full] : [];
      });
  return walk(root).map((file) => ({ name: path.relative(path.join(TLOG_DIR, 'vectors'), file), data: JSON.parse(readFileSync(file, 'utf8')) as T }));
}
