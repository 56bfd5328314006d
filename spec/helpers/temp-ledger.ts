/**
 * Spec helpers: a fresh ledger file in its own temp directory, closed and removed after the test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { openLedger, type Ledger, type LedgerOptions } from '../../lib/index.ts';
import { configureWriterConnection } from '../../lib/sqlite/connections.ts';
import { registerNativeFunctions } from '../../lib/sqlite/native-functions.ts';
import { checkChain } from '../../lib/verify/chain-check.ts';

/** Ledgers opened through these helpers, closed before any temp directory is removed. */
const opened = new WeakMap<TestContext, Ledger[]>();

function track(t: TestContext, ledger: Ledger): Ledger {
  const list = opened.get(t);
  if (list) list.push(ledger);
  else {
    opened.set(t, [ledger]);
    t.after(() => Promise.all([ledger, ...(opened.get(t) ?? [])].map((l) => l.close())).then(() => undefined));
  }
  return ledger;
}

/** A new empty directory, removed after the test (after the ledgers opened in it are closed). */
export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'stele-spec-'));
  t.after(async () => {
    await Promise.all((opened.get(t) ?? []).map((ledger) => ledger.close()));
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Path of a ledger file that does not exist yet, in a directory removed after the test. */
export function tempLedgerPath(t: TestContext, name = 'ledger.db'): string {
  return join(tempDir(t), name);
}

/** Opens a new ledger in a temp directory; it is closed (if still open) and removed after the test. */
export async function createLedger(t: TestContext, options?: LedgerOptions): Promise<Ledger> {
  const path = tempLedgerPath(t);
  return track(t, await openLedger(path, options));
}

/** Opens a ledger that is closed after the test (for reopening an existing file). */
export async function reopen(t: TestContext, path: string, options?: LedgerOptions): Promise<Ledger> {
  return track(t, await openLedger(path, options));
}

/**
 * A raw connection that can append, with Stele's real functions registered as the writer's are
 * (and, when given, the writer's set of signature verdicts): what another process holding the
 * file can do. Closed after the test.
 */
export function appendingConnection(t: TestContext, path: string, signatureVerdicts?: Set<string>): Database.Database {
  const db = new Database(path, { timeout: 2000 });
  t.after(() => db.close());
  configureWriterConnection(db, 'normal');
  registerNativeFunctions(db, { driftThresholdMs: 5000, ...(signatureVerdicts ? { signatureVerdicts } : {}) });
  return db;
}

/** A raw read-write better-sqlite3 connection with none of Stele's functions, closed after the test. */
export function rawConnection(t: TestContext, path: string): Database.Database {
  const db = new Database(path);
  t.after(() => db.close());
  return db;
}

/**
 * Checks the whole hash chain of a ledger file from a separate read-only connection: links,
 * sequences, stream versions and content hashes, not signatures (what a forger who recomputed
 * the chain cannot fake is the signatures, which `verifyLedgerFile` checks).
 */
export function chainOf(path: string): ReturnType<typeof checkChain> {
  const db = new Database(path, { readonly: true });
  try {
    return checkChain(db, { signatures: false });
  } finally {
    db.close();
  }
}

/** (sequence, content_hash) of every row: two files hold the same history when these are equal. */
export function historyOf(path: string): [number, string][] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT sequence, content_hash FROM events ORDER BY sequence').raw().all() as [number, string][];
  } finally {
    db.close();
  }
}
