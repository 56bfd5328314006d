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
import { LedgerError } from '../errors.ts';
import type { LedgerHead } from '../event.ts';

export function headSidecarPath(ledgerPath: string): string {
  return `${ledgerPath}-head.json`;
}

/** The recorded head, or undefined when there is no sidecar yet. SIDECAR_UNREADABLE when it cannot be read. */
export function readHeadSidecar(ledgerPath: string): LedgerHead | undefined {
  const path = headSidecarPath(ledgerPath);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const errno = (error as NodeJS.ErrnoException).code;
    if (errno === 'ENOENT') return undefined;
    throw LedgerError.of('SIDECAR_UNREADABLE', { path: ledgerPath, sidecar: path, errno }, `${path}: ${(error as Error).message}`);
  }
  let parsed: Partial<LedgerHead> | null;
  try {
    parsed = JSON.parse(text) as Partial<LedgerHead> | null;
  } catch (error) {
    throw LedgerError.of('SIDECAR_UNREADABLE', { path: ledgerPath, sidecar: path, reason: 'not_json' }, `${path} is not JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || !Number.isSafeInteger(parsed.sequence) || typeof parsed.contentHash !== 'string') {
    throw LedgerError.of('SIDECAR_UNREADABLE', { path: ledgerPath, sidecar: path, reason: 'malformed' }, `${path} does not hold { sequence, contentHash }`);
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
  syncDirectory(dirname(path));
}

/**
 * Makes a rename into `dir` durable: on POSIX systems the new directory entry survives a power
 * loss only once the directory itself is fsynced. Windows cannot open a directory for fsync
 * (EPERM/EISDIR) and journals the rename in NTFS metadata instead, so there it does nothing
 * (README "Platforms": untested here). On macOS fsync does not flush the drive's cache
 * (F_FULLFSYNC would), as for every file.
 */
export function syncDirectory(dir: string): void {
  if (process.platform === 'win32') return;
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
