/**
 * Closing a ledger in the one order that keeps every file complete, and closing it on signals.
 * @internal
 */
import type { LogLevel } from '../options.ts';
import type { ReplicaSet } from '../replication/replica-set.ts';
import type { WriterClient } from '../writer/writer-client.ts';
import type { Appends } from './appends.ts';
import type { LedgerReader } from './reader.ts';
import type { CommitWatcher } from './commit-watcher.ts';

/** What a ledger closes, from the caller's appends down to the writer. */
export interface Closable {
  appends: Appends;
  writer: WriterClient | undefined;
  subscriptions: CommitWatcher | undefined;
  reader: LedgerReader;
  replicas: ReplicaSet;
}

/** Flushes within `timeoutMs`, then lets go of every connection, the writer's last. */
export async function closeAll(parts: Closable, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const timeout = new Promise((resolve) => setTimeout(resolve, timeoutMs).unref());
  // Appends called before close() may still be validating their payloads (async schemas).
  await Promise.race([parts.appends.entered(), timeout]);
  await Promise.race([parts.writer?.drain(), timeout]);
  // The reader closes first so that the writer's connection is the file's last one: SQLite
  // then checkpoints the WAL into the main file, and a copy of the .db alone is complete.
  parts.subscriptions?.close();
  parts.reader.close();
  // Each replica finishes the propagations already asked of it, then lets go of its copy and
  // of its read connection to this file, before the writer's, which must be the last.
  await parts.replicas.close();
  await parts.writer?.close(Math.max(0, deadline - Date.now()));
}

/** Installs handlers that close (then exit 0, or 1 if closing failed); returns their removal. */
export function closeOnSignals(
  signals: readonly NodeJS.Signals[],
  close: () => Promise<void>,
  log: (level: LogLevel, fields: Record<string, unknown>, message: string) => void,
): () => void {
  const onSignal = (signal: NodeJS.Signals) => {
    log('info', { signal }, 'closing on signal');
    close().then(
      () => process.exit(0),
      (error: unknown) => {
        log('error', { error: String(error) }, 'close on signal failed');
        process.exit(1);
      },
    );
  };
  for (const signal of signals) process.once(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}
