/**
 * The head sidecar, `<ledger>-head.json`: the newest head the writer knows to be durable, kept
 * beside the ledger so that a rollback or truncation of the file (restoring an older copy,
 * deleting the last rows behind the triggers) is caught at the next start. Written tmp + fsync +
 * rename + fsync of the directory, at close and at most once a second after commits, never on the
 * append path itself.
 * @internal
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LedgerHead } from '../event.ts';

export function headSidecarPath(ledgerPath: string): string {
  return `${ledgerPath}-head.json`;
}

/** The recorded head, or undefined when there is no sidecar yet. Throws when it is unreadable. */
export function readHeadSidecar(ledgerPath: string): LedgerHead | undefined {
  let text: string;
  try {
    text = readFileSync(headSidecarPath(ledgerPath), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = JSON.parse(text) as Partial<LedgerHead>;
  if (!Number.isSafeInteger(parsed.sequence) || typeof parsed.contentHash !== 'string') {
    throw new Error(`head sidecar ${headSidecarPath(ledgerPath)} is malformed`);
  }
  return { sequence: parsed.sequence!, contentHash: parsed.contentHash };
}

export function writeHeadSidecar(ledgerPath: string, head: LedgerHead): void {
  const path = headSidecarPath(ledgerPath);
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, JSON.stringify({ ...head, writtenAt: new Date().toISOString() }) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  // The rename itself is durable only once the directory entry is.
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
