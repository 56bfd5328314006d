/**
 * Group commit on the writer's connection: every request that has arrived runs in one
 * BEGIN IMMEDIATE..COMMIT, each row proposed by {@link ProposedAppends} and checked by the
 * guards, and the outcomes go back together; the durable cost (one fsync at `durability: 'full'`)
 * is paid once per group. Runs in-process on any connection opened by `openWriteConnection`, so
 * specs can drive it without a thread.
 *
 * A request that fails leaves nothing and never fails the others, without a SAVEPOINT per
 * request (measured: a savepoint around a batch of 1,000 doubles the cost of its rows, every page
 * it touches going through the sub-journal). A refused INSERT is undone by SQLite alone, so a
 * request refused before it wrote a row needs nothing more. One refused after it wrote rows (the
 * rare case: a batch whose k-th event is refused) rolls the whole transaction back, and the group
 * runs again without it: the requests before it meet the same state again, the ones after it
 * never saw its rows.
 * @internal
 */
import type Database from 'better-sqlite3';
import { LedgerError, toWire, type WireError } from '../errors.ts';
import type { EncodedEvent } from '../format/event-encoding.ts';
import { raisedError } from '../sqlite/append-statement.ts';
import { isDiskFull } from '../sqlite/ledger-file.ts';
import type { AppendRequest, RequestOutcome, StoredEvent, WriterSettings } from './protocol.ts';
import { ProposedAppends } from './proposed-appends.ts';
import type { LogLevel } from '../options.ts';

type Log = (level: LogLevel, fields: Record<string, unknown>, message: string) => void;

/**
 * SQLite result codes worth retrying: another connection (another process, the sqlite3 shell, a
 * backup tool) holds the write lock for a while. Everything else fails at once; a halt, being a
 * trigger's refusal, is never retried.
 */
function isTransient(code: string | undefined): boolean {
  return code !== undefined && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

/**
 * What the writer thread threw, as the coded error its caller gets: a LedgerError as it is, what
 * a trigger raised with its code (plus `facts`), a full disk DISK_FULL (SQLite rolled back: the
 * next append after space frees works), anything else WRITE_FAILED with SQLite's code.
 */
export function wireErrorOf(error: unknown, facts?: (code: WireError['code']) => Record<string, unknown>): WireError {
  const coded = raisedError(error, facts);
  if (coded) return toWire(coded);
  const code = (error as { code?: unknown }).code;
  const sqliteCode = typeof code === 'string' ? code : undefined;
  const message = error instanceof Error ? error.message : String(error);
  return toWire(LedgerError.of(isDiskFull(sqliteCode ?? '', message) ? 'DISK_FULL' : 'WRITE_FAILED', { sqliteCode }, message));
}

export class GroupCommit {
  readonly #db: Database.Database;
  readonly #retry: WriterSettings['retry'];
  readonly #log: Log;
  readonly #statements;
  readonly #lookups;
  readonly #appends: ProposedAppends;
  readonly #signatureVerdicts: Set<string> | undefined;

  /** `signatureVerdicts`: the set the connection's stele_signature_valid reads (native-functions.ts). */
  constructor(db: Database.Database, retry: WriterSettings['retry'], log: Log, signatureVerdicts?: Set<string>) {
    this.#db = db;
    this.#retry = retry;
    this.#log = log;
    this.#signatureVerdicts = signatureVerdicts;
    this.#statements = {
      begin: db.prepare('BEGIN IMMEDIATE'),
      commit: db.prepare('COMMIT'),
      rollback: db.prepare('ROLLBACK'),
    };
    this.#appends = new ProposedAppends(db);
    this.#lookups = {
      lastHalt: db.prepare<[], { sequence: number; reason: string | null }>(
        "SELECT sequence, json_extract(payload, '$.reason') AS reason FROM events WHERE stream_id = '$halt' ORDER BY stream_version DESC LIMIT 1",
      ),
      quorum: db.prepare<[], number>("SELECT CAST(value AS INTEGER) FROM ledger_meta WHERE key = 'witness_quorum'").pluck(),
    };
  }

  /**
   * Commits the group, retrying while the file is locked by another connection (backing off).
   * Once `stop` aborts (the ledger is closing) it retries no more: the group fails, rolled back,
   * so that its callers learn a known outcome instead of one cut short by the close.
   */
  async commit(requests: AppendRequest[], stop?: AbortSignal): Promise<RequestOutcome[]> {
    // A verdict holds for the group it arrived with only: each attempt sees the same ones.
    const verdicts = this.#signatureVerdicts;
    if (verdicts) for (const request of requests) for (const event of request.events) if (event.signatureVerdict) verdicts.add(event.signatureVerdict);
    try {
      return await this.#commitWithRetries(requests, stop);
    } finally {
      verdicts?.clear();
    }
  }

  async #commitWithRetries(requests: AppendRequest[], stop: AbortSignal | undefined): Promise<RequestOutcome[]> {
    const { attempts, delayMs } = this.#retry;
    for (let attempt = 1; ; attempt++) {
      const result = this.#commitOnce(requests);
      if (!('transient' in result)) return result;
      if (stop?.aborted) {
        const error = toWire(
          LedgerError.of('WRITE_FAILED', { attempts: attempt, sqliteCode: result.transient, closing: true }, `the ledger closed while its file stayed locked (${result.transient})`),
        );
        return requests.map((request) => ({ id: request.id, ok: false, error }));
      }
      if (attempt > attempts) {
        const error = toWire(
          LedgerError.of('WRITE_FAILED', { attempts: attempt, sqliteCode: result.transient }, `the ledger file stayed locked (${result.transient})`),
        );
        this.#log('warn', { attempts: attempt, sqliteCode: result.transient, requests: requests.length }, 'append failed after retries');
        return requests.map((request) => ({ id: request.id, ok: false, error }));
      }
      // Exponential backoff with jitter, so that two writers' retries do not stay in step.
      const delay = delayMs * 2 ** (attempt - 1) * (1 + Math.random() * 0.5);
      this.#log('warn', { attempt, sqliteCode: result.transient, retryInMs: Math.round(delay) }, 'ledger file busy; retrying');
      await sleep(delay, stop);
    }
  }

  /**
   * One transaction for the whole group, or `transient` when the write lock could not be had.
   * A request refused after it wrote rows is dropped and the group runs again without it.
   */
  #commitOnce(requests: AppendRequest[]): RequestOutcome[] | { transient: string } {
    const failed = new Map<number, RequestOutcome>();
    for (;;) {
      const attempt = this.#runGroup(requests.filter((request) => !failed.has(request.id)), failed);
      if (attempt !== 'again') return 'transient' in attempt ? attempt : requests.map((request) => failed.get(request.id) ?? attempt.get(request.id)!);
    }
  }

  /**
   * Runs `requests` in one transaction, adding each refusal to `failed`. Returns the committed
   * outcomes, `transient`, or 'again' after rolling back for a request refused after it wrote rows.
   */
  #runGroup(requests: AppendRequest[], failed: Map<number, RequestOutcome>): Map<number, RequestOutcome> | { transient: string } | 'again' {
    const { begin, commit, rollback } = this.#statements;
    const appends = this.#appends;
    try {
      begin.run();
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (isTransient(code)) return { transient: code! };
      return this.#failAll(requests, failed, error);
    }
    const done = new Map<number, RequestOutcome>();
    try {
      appends.sync();
    } catch (error) {
      rollback.run();
      return this.#failAll(requests, failed, error);
    }
    for (const request of requests) {
      const before = appends.sequence;
      let current: EncodedEvent | undefined;
      try {
        const stored: StoredEvent[] = [];
        for (current of request.events) stored.push(appends.append(current));
        done.set(request.id, { id: request.id, ok: true, events: stored });
      } catch (error) {
        // Details are read before rolling back, so they describe what the failing event saw.
        failed.set(request.id, { id: request.id, ok: false, error: this.wireErrorOf(error, current) });
        if (!this.#db.inTransaction) return this.#failAll(requests, failed, error);
        if (appends.sequence !== before) {
          rollback.run();
          appends.reset();
          return 'again';
        }
      }
    }
    try {
      commit.run();
    } catch (error) {
      if (this.#db.inTransaction) rollback.run();
      // Nothing of the group was written: the rows the cache moved on to are gone.
      appends.reset();
      const code = (error as { code?: string }).code;
      if (isTransient(code)) return { transient: code! };
      return this.#failAll(requests, failed, error);
    }
    return done;
  }

  /**
   * SQLite rolled the whole transaction back (I/O error, disk full, a failed COMMIT): requests
   * that had succeeded inside it are not durable, so every request of the group fails.
   */
  #failAll(requests: AppendRequest[], failed: Map<number, RequestOutcome>, cause: unknown): Map<number, RequestOutcome> {
    this.#appends.reset();
    const error = this.wireErrorOf(cause);
    return new Map(requests.map((request) => [request.id, failed.get(request.id) ?? { id: request.id, ok: false, error }]));
  }

  /**
   * What SQLite threw, as the coded error the caller gets. The raised message is literal, so the
   * facts for `details` are looked up here, in the failing transaction.
   */
  wireErrorOf(error: unknown, event?: EncodedEvent): WireError {
    return wireErrorOf(error, event && ((code) => this.#detailsOf(code, event)));
  }

  /** The facts behind a coded failure of `event`, read in the failing transaction. */
  #detailsOf(code: WireError['code'], event: EncodedEvent): Record<string, unknown> {
    const payload = () => (event.payload ? (JSON.parse(event.payload) as Record<string, unknown>) : {});
    switch (code) {
      case 'LEDGER_HALTED': {
        const halt = this.#lookups.lastHalt.get();
        return { haltSequence: halt?.sequence, reason: halt?.reason };
      }
      case 'SIGNATURE_REQUIRED':
      case 'SIGNATURE_INVALID':
        return { eventId: event.eventId, agentId: event.agentId ?? undefined };
      case 'UNKNOWN_AGENT':
      case 'AGENT_KEY_REVOKED':
      case 'DUPLICATE_AGENT_KEY':
        return event.agentId !== null ? { agentId: event.agentId } : { agentId: payload().agentId, keyId: payload().keyId };
      case 'CEREMONY_REFUSED':
        return { quorum: this.#lookups.quorum.get() };
      default:
        return {};
    }
  }
}

/** Resolves after `ms`, or at once when `stop` aborts. */
function sleep(ms: number, stop: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    stop?.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      stop?.removeEventListener('abort', done);
      resolve();
    }
  });
}
