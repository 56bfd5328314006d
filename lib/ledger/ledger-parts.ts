/**
 * What a {@link Ledger} is made of, as {@link openLedger} builds it, and what is read off the
 * parts as a whole: the health report, and the writer behind a ledger for specs.
 * @internal
 */
import type { LedgerError } from '../errors.ts';
import type { ResolvedOptions } from '../options.ts';
import type { ReplicaSet } from '../replication/replica-set.ts';
import type { WriterClient } from '../writer/writer-client.ts';
import type { LedgerHealth } from './ledger-types.ts';
import type { LedgerReader } from './reader.ts';

/**
 * What a {@link Ledger} is made of; {@link openLedger} builds it.
 * @internal
 */
export interface LedgerParts {
  path: string;
  options: ResolvedOptions;
  reader: LedgerReader;
  /** Absent when opened with `readonly: true`, or degraded. */
  writer: WriterClient | undefined;
  /** Why there is no writer although one was asked for (allowDegraded). */
  degradedBy: LedgerError | undefined;
  /** The replicas of `options.replicas`; openLedger attaches them once the ledger exists. */
  replicas: ReplicaSet;
}

/** A ledger's writer, for specs that crash it on purpose. Not part of the public surface. @internal */
const writers = new WeakMap<object, WriterClient | undefined>();

/** Remembers the writer of `ledger`, for {@link writerOf}. */
export function registerWriter(ledger: object, writer: WriterClient | undefined): void {
  writers.set(ledger, writer);
}

/** @internal For specs and examples of supervision: the writer behind a ledger. */
export function writerOf(ledger: object): WriterClient | undefined {
  return writers.get(ledger);
}


/** The ledger's condition from its parts; `closing` once close() was called. */
export function healthOf(parts: LedgerParts, closing: boolean): LedgerHealth {
  const { writer, reader, degradedBy, replicas } = parts;
  return {
    writer: closing ? 'closed' : writer ? writer.state : degradedBy ? 'failed' : 'closed',
    degraded: degradedBy !== undefined || writer?.state === 'failed',
    fileReplaced: writer?.fileReplaced ?? false,
    halted: closing ? false : reader.haltState().halted,
    headSequence: closing ? undefined : reader.head()?.sequence ?? 0,
    lastWriteAt: writer?.stats.lastWriteAt,
    appendedCount: writer?.stats.appendedCount ?? 0,
    failedWriteCount: writer?.stats.failedWriteCount ?? 0,
    pendingAppends: writer?.pendingAppends ?? 0,
    restarts: writer?.stats.restarts ?? 0,
    replicas: closing ? [] : replicas.health(reader.head()?.sequence ?? 0),
  };
}
