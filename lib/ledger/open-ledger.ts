/**
 * {@link openLedger}: options resolved, the writer started (or the reasons it could not be),
 * the read connection opened, the replicas attached, the taxonomy of `eventTypes` recorded.
 */
import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import { requireFilePath } from '../arguments.ts';
import { LedgerError } from '../errors.ts';
import { logTo, resolveOptions, type LedgerOptions, type LogLevel, type ResolvedOptions } from '../options.ts';
import { ReplicaSet } from '../replication/replica-set.ts';
import { WriterClient } from '../writer/writer-client.ts';
import { Ledger } from './ledger.ts';
import { LedgerReader } from './reader.ts';
import { eventTypeSet, sameEventTypes } from './system-events.ts';
import type { EventMap, EventsOf, EventTypeSchemas, UntypedEvents } from './typed-events.ts';

/**
 * Opens (or creates) a ledger file and starts its writer. Fails with WRITER_LOCK_HELD when another
 * writer has the file open, in this process or another.
 *
 * With `eventTypes` schemas the ledger is typed by them: `append` accepts only those types, each
 * with its schema's input type, and reads return a union discriminated on `type`. A type map
 * without schemas types it too: `openLedger<MyEvents>(path)` (the types are then the caller's
 * claim; pass `eventTypes` to have the database enforce the list).
 *
 * @example
 * ```ts
 * import { openLedger } from 'stele';
 * import { z } from 'zod';
 *
 * const ledger = await openLedger('./shop.db', {
 *   durability: 'full',
 *   eventTypes: { order_placed: z.object({ orderId: z.string(), total: z.number() }), heartbeat: true },
 * });
 * await ledger.append({ type: 'order_placed', payload: { orderId: 'o-1', total: 9.5 } });
 * const event = ledger.get(1);
 * if (event?.type === 'order_placed') console.log(event.payload.total);
 * ```
 */
export async function openLedger<const Schemas extends EventTypeSchemas>(
  path: string,
  options: LedgerOptions & { eventTypes: Schemas },
): Promise<Ledger<EventsOf<Schemas>>>;
export async function openLedger<Events extends EventMap = UntypedEvents>(path: string, options?: LedgerOptions): Promise<Ledger<Events>>;
export async function openLedger(path: string, options?: LedgerOptions): Promise<Ledger> {
  requireFilePath('openLedger: the path', path);
  const resolved = resolveOptions(options);
  const absolute = realPath(resolvePath(path));
  const replicasOf = () => new ReplicaSet(resolved.replicas, resolved.replication);
  const log = (level: LogLevel, fields: Record<string, unknown>, message: string) => logTo(resolved.logger, level, fields, message);
  if (resolved.readonly) {
    if (!existsSync(absolute)) throw new TypeError(`readonly: true needs an existing ledger file; ${absolute} does not exist`);
    const reader = new LedgerReader(absolute);
    const mismatch = schemaMismatchOf(reader, resolved.allowSchemaMismatch);
    const ledger = new Ledger({ path: absolute, options: resolved, reader, writer: undefined, degradedBy: undefined, replicas: replicasOf() });
    if (mismatch) {
      log('warn', { code: mismatch.code, ...mismatch.details }, 'opened for reading although the schema is not the pinned one');
      setImmediate(() => ledger.emit('warning', { kind: 'schema_mismatch', code: 'SCHEMA_MISMATCH', details: mismatch.details }));
    }
    return ledger;
  }
  let writer: WriterClient;
  try {
    writer = await WriterClient.start(absolute, resolved, log);
  } catch (error) {
    if (error instanceof LedgerError) {
      log(error.code === 'WRITER_INCONSISTENCY' ? 'fatal' : 'error', { code: error.code, ...error.details }, 'writer could not start');
    }
    if (!resolved.allowDegraded || !(error instanceof LedgerError) || !existsSync(absolute)) throw error;
    const degraded = new Ledger({ path: absolute, options: resolved, reader: new LedgerReader(absolute), writer: undefined, degradedBy: error, replicas: replicasOf() });
    log('warn', { code: error.code }, 'opened degraded: reads only');
    // Emitted after openLedger resolves, so the caller can listen for it.
    setImmediate(() => degraded.emit('warning', { kind: 'degraded', code: error.code, details: error.details }));
    return degraded;
  }
  let reader: LedgerReader;
  try {
    reader = new LedgerReader(absolute);
  } catch (error) {
    await writer.close(0);
    throw error;
  }
  const replicas = replicasOf();
  const ledger = new Ledger({ path: absolute, options: resolved, reader, writer, degradedBy: undefined, replicas });
  try {
    await replicas.attach(absolute);
    await recordEventTypes(ledger, resolved, log);
  } catch (error) {
    await ledger.close();
    throw error;
  }
  return ledger;
}

/**
 * The `eventTypes` of this opening against the taxonomy the ledger records: recorded when it has
 * none yet; a different recorded one is never replaced by an opening (only by
 * `setEventTypes()`), and the ledger says so with a warning.
 */
async function recordEventTypes(ledger: Ledger, options: ResolvedOptions, log: (level: LogLevel, fields: Record<string, unknown>, message: string) => void): Promise<void> {
  if (!options.eventTypes) return;
  const given = eventTypeSet(Object.keys(options.eventTypes));
  const recorded = ledger.recordedEventTypes();
  if (recorded === undefined) {
    await ledger.setEventTypes(given);
  } else if (!sameEventTypes(recorded, given)) {
    const details = { recorded, given };
    log('warn', details, 'eventTypes differ from the taxonomy the ledger records, which stays in force; change it with setEventTypes()');
    setImmediate(() => ledger.emit('warning', { kind: 'event_types_mismatch', ...details }));
  }
}

/**
 * The path with every symlink resolved (of the folder when the file does not exist yet): the
 * writer lock and the head sidecar sit beside the real file, so that two spellings of one ledger
 * (a symlink, `..`, a bind of its folder) share them.
 */
function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    try {
      return join(realpathSync(dirname(path)), basename(path));
    } catch {
      return path;
    }
  }
}

/**
 * A reader opens a file whose schema is not the pinned one only when asked to: its rows may have
 * been written without the rules (SCHEMA_MISMATCH otherwise, the reader closed).
 */
function schemaMismatchOf(reader: LedgerReader, allowed: boolean): LedgerError | undefined {
  let mismatch: LedgerError | undefined;
  try {
    mismatch = reader.schemaMismatch();
  } catch (error) {
    reader.close();
    throw error;
  }
  if (mismatch && !allowed) {
    reader.close();
    throw mismatch;
  }
  return mismatch;
}
