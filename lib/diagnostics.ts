/**
 * Stele's `node:diagnostics_channel` channels, the hook APM and OpenTelemetry tools subscribe to.
 * Every publish is guarded by `hasSubscribers`, so that with nobody listening a publish point
 * costs one property read and builds no message. Messages are plain objects, never the ledger
 * itself; they carry the ledger's absolute `path` so one subscriber can tell ledgers apart.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { LedgerError } from './errors.ts';

/**
 * The message of each `stele:*` channel, by channel name.
 *
 * @example
 * ```ts
 * import diagnosticsChannel from 'node:diagnostics_channel';
 * diagnosticsChannel.subscribe('stele:append', (message) => {
 *   const { events, durationMs } = message as DiagnosticMessages['stele:append'];
 *   histogram.record(durationMs, { events });
 * });
 * ```
 */
export interface DiagnosticMessages {
  /** An append request (one event or a batch) acknowledged: committed and visible. */
  'stele:append': { path: string; events: number; firstSequence: number; lastSequence: number; durationMs: number };
  /** An append request refused or failed; nothing of it was written. */
  'stele:append:error': { path: string; events: number; code: string | undefined; error: unknown; durationMs: number };
  /** One group commit of the writer thread, as its outcomes reach the main thread. */
  'stele:commit': { path: string; requests: number; failedRequests: number; events: number; lastSequence: number | undefined };
  /** The writer thread died; it is restarted unless `maxRestarts` is exhausted. */
  'stele:writer:crash': { path: string; cause: Record<string, unknown> };
  /** The ledger was halted through `ledger.halt()`. */
  'stele:halt': { path: string; reason: string; sequence: number };
  /** A range of `ledger.verify()` was checked. */
  'stele:verify:progress': { path: string; checked: number; total: number };
  /** `ledger.verify()` finished (or failed with `error`). */
  'stele:verify:done': { path: string; ok: boolean; checked: number; durationMs: number; error?: LedgerError | unknown };
}

/** One channel per name, created once at load (a channel object is cheap; the lookup then is a property read). */
const channels: { readonly [Name in keyof DiagnosticMessages]: diagnosticsChannel.Channel } = {
  'stele:append': diagnosticsChannel.channel('stele:append'),
  'stele:append:error': diagnosticsChannel.channel('stele:append:error'),
  'stele:commit': diagnosticsChannel.channel('stele:commit'),
  'stele:writer:crash': diagnosticsChannel.channel('stele:writer:crash'),
  'stele:halt': diagnosticsChannel.channel('stele:halt'),
  'stele:verify:progress': diagnosticsChannel.channel('stele:verify:progress'),
  'stele:verify:done': diagnosticsChannel.channel('stele:verify:done'),
};

/**
 * True when someone listens on `name`: check it before building a message.
 * @internal
 */
export function hasDiagnosticSubscribers(name: keyof DiagnosticMessages): boolean {
  return channels[name].hasSubscribers;
}

/**
 * Publishes `build()` on `name` if anyone listens; `build` is not called otherwise. A subscriber
 * that throws does not reach the publisher (diagnostics_channel reports it on process
 * 'uncaughtException' itself, on the next tick).
 * @internal
 */
export function publishDiagnostic<Name extends keyof DiagnosticMessages>(name: Name, build: () => DiagnosticMessages[Name]): void {
  const channel = channels[name];
  if (channel.hasSubscribers) channel.publish(build());
}

/**
 * The `stele:commit` message of one group's outcomes (structural, so this file needs no writer types).
 * @internal
 */
export function commitMessage(
  path: string,
  outcomes: { ids: readonly number[]; errors: readonly unknown[]; sequences: Float64Array },
): DiagnosticMessages['stele:commit'] {
  const { sequences } = outcomes;
  let lastSequence: number | undefined;
  for (const sequence of sequences) if (lastSequence === undefined || sequence > lastSequence) lastSequence = sequence;
  return { path, requests: outcomes.ids.length, failedRequests: outcomes.errors.length, events: sequences.length, lastSequence };
}
