/**
 * Property: arbitrary input thrown at every public method of a Ledger, and at openLedger, is
 * either accepted or refused with a TypeError, a RangeError or a LedgerError carrying a known
 * code. Never a hang, never a crash of the writer, never an uncoded error, never a corrupted
 * ledger: after each run the whole chain verifies and the next valid append takes the next
 * sequence.
 *
 * Inputs: wrong types, strings up to 2 MB, lone UTF-16 surrogates, deep nesting, NaN, ±Infinity,
 * negative and fractional numbers, unknown options, objects with throwing getters and proxies
 * whose traps throw. An error the caller's own object throws (HostileInput, or the caller's own
 * abort reason) may pass through unchanged: it is the caller's exception, not Stele's failure.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { generateAgentKeyPair, LedgerError, openLedger, verifyLedgerFile, type Ledger, type LedgerErrorCode } from '../../lib/index.ts';
import { chainOf, tempDir } from '../helpers/temp-ledger.ts';

/** Every code, checked against the LedgerErrorCode union by the compiler in both directions. */
const KNOWN_CODES: Record<LedgerErrorCode, true> = {
  WRONG_EXPECTED_VERSION: true,
  UNDECODABLE_EVENT: true,
  WITNESS_QUORUM_FIXED: true,
  STREAM_NOT_FOUND: true,
  EVENT_TOO_LARGE: true,
  INVALID_EVENT: true,
  DUPLICATE_EVENT_ID: true,
  APPEND_ONLY_VIOLATION: true,
  LEDGER_CLOSED: true,
  BACKPRESSURE: true,
  WRITER_LOCK_HELD: true,
  WRITER_INCONSISTENCY: true,
  WRITER_CRASHED: true,
  WRITE_FAILED: true,
  FILE_NOT_WRITABLE: true,
  DISK_FULL: true,
  SIDECAR_UNREADABLE: true,
  LEDGER_FILE_REPLACED: true,
  WRITER_UNAVAILABLE: true,
  LEDGER_HALTED: true,
  NOT_HALTED: true,
  CEREMONY_REFUSED: true,
  CHECKPOINT_REFUSED: true,
  SIGNATURE_INVALID: true,
  SIGNATURE_REQUIRED: true,
  UNKNOWN_AGENT: true,
  AGENT_KEY_REVOKED: true,
  DUPLICATE_AGENT_KEY: true,
  UNKNOWN_EVENT_TYPE: true,
  NOT_A_LEDGER: true,
  BACKUP_FAILED: true,
  NOT_A_REPLICA: true,
  REPLICA_NOT_PROMOTED: true,
  REPLICA_DIVERGED: true,
  REPLICA_AHEAD: true,
  REPLICATION_FAILED: true,
  SCHEMA_MISMATCH: true,
  UNSUPPORTED_FORMAT: true,
  PACKAGE_FILES_MISSING: true,
  WITNESS_REFUSED: true,
  WITNESS_FAILED: true,
};

/** Codes that bad input must never cause on a healthy ledger: they mean Stele itself broke. */
const NEVER_FOR_BAD_INPUT = new Set<LedgerErrorCode>(['WRITER_CRASHED', 'WRITER_INCONSISTENCY', 'WRITE_FAILED', 'LEDGER_HALTED']);

const CALL_TIMEOUT_MS = 10_000;

/** What the caller's own hostile objects throw. */
class HostileInput extends Error {
  override name = 'HostileInput';
}

class Hang extends Error {
  override name = 'Hang';
}

function allowed(label: string, error: unknown, extraCodes: LedgerErrorCode[] = [], knownBug?: (error: unknown) => boolean): void {
  if (knownBug?.(error)) return;
  if (error instanceof LedgerError) {
    assert.ok(Object.hasOwn(KNOWN_CODES, error.code), `${label}: unknown code ${String(error.code)}`);
    assert.ok(
      !NEVER_FOR_BAD_INPUT.has(error.code) || extraCodes.includes(error.code),
      `${label}: bad input caused ${error.code}: ${error.message} ${JSON.stringify(error.details)}`,
    );
    return;
  }
  if (error instanceof TypeError || error instanceof RangeError) return;
  if (error instanceof HostileInput) return;
  if (error instanceof DOMException && (error.name === 'AbortError' || error.name === 'TimeoutError')) return;
  const name = (error as Error | undefined)?.constructor?.name ?? typeof error;
  assert.fail(`${label}: uncoded ${name}: ${String((error as Error | undefined)?.message ?? error).slice(0, 300)}`);
}

/** Outcomes per call label ('append: ok', 'append: INVALID_EVENT'...), reported as a diagnostic. */
const outcomes = new Map<string, number>();
function count(label: string, outcome: unknown): void {
  const kind = outcome === 'ok' ? 'ok' : outcome instanceof LedgerError ? outcome.code : (outcome as Error)?.name ?? typeof outcome;
  const key = `${label}: ${kind}`;
  outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
}
function report(t: { diagnostic(message: string): void }): void {
  t.diagnostic([...outcomes].sort(([a], [b]) => a.localeCompare(b)).map(([key, n]) => `${key} ×${n}`).join('; '));
  outcomes.clear();
}

/** Runs a call; sync throws, rejections and hangs are checked; returns whether it succeeded. */
async function attempt(label: string, call: () => unknown, extraCodes: LedgerErrorCode[] = [], knownBug?: (error: unknown) => boolean): Promise<boolean> {
  let result: unknown;
  try {
    result = call();
  } catch (error) {
    count(label, error);
    allowed(label, error, extraCodes, knownBug);
    return false;
  }
  if (typeof (result as Promise<unknown> | undefined)?.then !== 'function') {
    count(label, 'ok');
    return true;
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      result,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Hang(`${label} did not settle within ${CALL_TIMEOUT_MS} ms`)), CALL_TIMEOUT_MS);
      }),
    ]);
    count(label, 'ok');
    return true;
  } catch (error) {
    if (error instanceof Hang) throw error;
    count(label, error);
    allowed(label, error, extraCodes, knownBug);
    return false;
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

const loneSurrogate = fc.constantFrom('\uD800', '\uDBFF', '\uDC00', '\uDFFF');
const withLoneSurrogate = fc.tuple(fc.string({ maxLength: 8 }), loneSurrogate, fc.string({ maxLength: 8 })).map((parts) => parts.join(''));
/** Up to 2 MB of UTF-8: ASCII, 2-byte or 4-byte characters. */
const hugeString = fc
  .tuple(fc.integer({ min: 257, max: 512 * 1024 }), fc.constantFrom('x', 'é', '😀'))
  .map(([n, unit]) => unit.repeat(Math.min(n, Math.floor((2 * 1024 * 1024) / Buffer.byteLength(unit)))));
const weirdString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  withLoneSurrogate,
  fc.constantFrom('', ' ', '\0', '$halt', '$agents', '$default', '__proto__', 'constructor', 'toString'),
  { weight: 1, arbitrary: hugeString },
);
const weirdNumber = fc.oneof(
  fc.constantFrom(Number.NaN, Infinity, -Infinity, -0, -1, 0, 0.5, 1.5, 2 ** 31, 2 ** 53, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 1e308, -1e-308),
  fc.integer({ min: -5, max: 50 }),
  fc.double(),
);

function nest(depth: number, kind: 'array' | 'object'): unknown {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i++) value = kind === 'array' ? [value] : { a: value };
  return value;
}
const deep = fc.tuple(fc.integer({ min: 50, max: 50_000 }), fc.constantFrom<'array' | 'object'>('array', 'object')).map(([d, k]) => nest(d, k));

type HostileKind = 'proxy' | 'getter' | 'revoked' | 'fake-date' | 'fake-array';

/**
 * Stands for an object that throws when touched. fast-check inspects the values it generates, so
 * it only ever sees this token; {@link materialize} swaps in the real object just before the call.
 */
class Hostile {
  constructor(readonly kind: HostileKind) {}
  [fc.toStringMethod](): string {
    return `Hostile(${this.kind})`;
  }
}

function hostileObject(kind: HostileKind): unknown {
  switch (kind) {
    case 'proxy': {
      const trap = (name: string) => () => {
        throw new HostileInput(name);
      };
      return new Proxy({}, { get: trap('get'), has: trap('has'), ownKeys: trap('ownKeys'), getOwnPropertyDescriptor: trap('getOwnPropertyDescriptor'), getPrototypeOf: trap('getPrototypeOf') });
    }
    case 'getter': {
      const object: Record<string, unknown> = { type: 'order_placed' };
      for (const key of ['payload', 'metadata', 'streamId', 'from', 'limit', 'timeoutMs', 'keyId', 'role', 'reason', 'witnesses']) {
        Object.defineProperty(object, key, {
          enumerable: true,
          get: () => {
            throw new HostileInput(`getter ${key}`);
          },
        });
      }
      return object;
    }
    case 'revoked': {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return proxy;
    }
    case 'fake-date':
      return Object.create(Date.prototype);
    default:
      return Object.assign([1, 2], { length: 2 ** 32 - 1 });
  }
}

/** Replaces Hostile tokens (found at most a few levels down, in arrays and plain objects) by real objects. */
function materialize(value: unknown, depth = 0): unknown {
  if (value instanceof Hostile) return hostileObject(value.kind);
  if (depth > 5 || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const items = value.map((item) => materialize(item, depth + 1));
    return items.some((item, i) => item !== value[i]) ? items : value;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const entries = Object.entries(value);
  const replaced = entries.map(([key, item]) => [key, materialize(item, depth + 1)] as const);
  if (replaced.every(([, item], i) => item === entries[i]![1])) return value;
  const copy = Object.create(proto) as Record<string, unknown>;
  for (const [key, item] of replaced) Object.defineProperty(copy, key, { value: item, enumerable: true, writable: true, configurable: true });
  return copy;
}

const hostile = fc.constantFrom<HostileKind>('proxy', 'getter', 'revoked', 'fake-date', 'fake-array').map((kind) => new Hostile(kind));

const value: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.anything({ maxDepth: 3, withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withNullPrototype: true, withSparseArray: true, withBoxedValues: true }) },
  { weight: 2, arbitrary: weirdString },
  { weight: 2, arbitrary: weirdNumber },
  { weight: 1, arbitrary: deep },
  { weight: 1, arbitrary: hostile },
  { weight: 1, arbitrary: fc.constantFrom(undefined, null, true, Symbol('s'), 10n, () => 1, new Date(Number.NaN), new Date(8.64e15)) },
);

/** Mostly a valid value, sometimes anything: so that calls get past their first check often enough. */
const mostly = (valid: fc.Arbitrary<unknown>, bad: fc.Arbitrary<unknown>) => fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: bad });

const validType = fc.constantFrom('order_placed', 'order_paid', 'note');
const validStream = fc.constantFrom('s1', 's2', undefined);
const expectedVersion = fc.oneof(fc.constantFrom('any', 'no_stream', 'stream_exists', 'ANY', ''), weirdNumber, value);

/** Mostly event-shaped, with any field replaced by anything, and unknown fields. */
const input: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 1, arbitrary: value },
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.record(
          {
            type: mostly(validType, value),
            payload: fc.oneof(fc.jsonValue(), value),
            metadata: fc.oneof(fc.jsonValue(), value),
            streamId: mostly(validStream, value),
            expectedVersion: mostly(fc.constantFrom(undefined, 'any', 'stream_exists'), expectedVersion),
            eventId: mostly(fc.oneof(fc.constant(undefined), fc.uuid()), fc.oneof(weirdString, value)),
            localTimestamp: mostly(fc.constantFrom(undefined, new Date()), fc.oneof(fc.date({ noInvalidDate: false }), value)),
            agentId: mostly(fc.constant(undefined), value),
            signature: mostly(fc.constant(undefined), value),
          },
          { requiredKeys: ['type'] },
        ),
        mostly(fc.constant({}), fc.dictionary(weirdString.filter((k) => k.length < 100), value, { maxKeys: 2 })),
      )
      .map(([event, extra]) => ({ ...(extra as object), ...event })),
  },
);

const options = (keys: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 1, arbitrary: value },
    {
      weight: 6,
      arbitrary: fc
        .tuple(fc.record(keys, { requiredKeys: [] }), mostly(fc.constant({}), fc.dictionary(fc.string({ maxLength: 12 }), value, { maxKeys: 2 })))
        .map(([known, unknown]) => ({ ...(unknown as object), ...known })),
    },
  );
const sequenceLike = mostly(fc.integer({ min: 1, max: 30 }), fc.oneof(weirdNumber, value));
const anAbortSignal = fc.constantFrom('aborted', 'timeout', 'fake').map((kind) =>
  kind === 'aborted' ? AbortSignal.abort() : kind === 'timeout' ? AbortSignal.timeout(1) : { aborted: false, reason: undefined },
);

type Call = { method: string; args: unknown[] };
const call = (method: string, args: fc.Arbitrary<unknown>[]): fc.Arbitrary<Call> => fc.tuple(...args).map((a) => ({ method, args: a }));

const calls: fc.Arbitrary<Call> = fc.oneof(
  { weight: 6, arbitrary: call('append', [input]) },
  { weight: 4, arbitrary: call('appendBatch', [fc.oneof(fc.array(input, { maxLength: 5 }), value), options({ streamId: fc.oneof(validStream, value), expectedVersion })]) },
  { weight: 2, arbitrary: call('get', [sequenceLike]) },
  { weight: 2, arbitrary: call('getByEventId', [fc.oneof(weirdString, value)]) },
  { weight: 2, arbitrary: call('readAll', [options({ from: sequenceLike, limit: sequenceLike })]) },
  { weight: 2, arbitrary: call('readStream', [fc.oneof(validStream, weirdString, value), options({ fromVersion: sequenceLike, limit: sequenceLike })]) },
  { weight: 1, arbitrary: call('streamVersion', [fc.oneof(validStream, weirdString, value)]) },
  { weight: 1, arbitrary: call('head', [value]) },
  { weight: 1, arbitrary: call('maxSequence', [value]) },
  { weight: 2, arbitrary: call('verifyContinuity', [sequenceLike, sequenceLike]) },
  {
    weight: 2,
    arbitrary: call('registerAgentKey', [
      fc.oneof(fc.constantFrom('bot', 'witness'), weirdString, value),
      fc.oneof(fc.constant('generated'), weirdString, value),
      options({ keyId: fc.oneof(weirdString, value), role: fc.oneof(fc.constantFrom('agent', 'witness', 'admin'), value) }),
    ]),
  },
  { weight: 1, arbitrary: call('revokeAgentKey', [fc.oneof(fc.constantFrom('bot'), weirdString, value), fc.oneof(weirdString, value), fc.oneof(weirdString, value)]) },
  { weight: 1, arbitrary: call('haltState', [value]) },
  { weight: 1, arbitrary: call('health', [value]) },
  // halt only with reasons that must be refused: a halt with a real reason would stop the ledger.
  { weight: 1, arbitrary: call('halt', [fc.oneof(fc.constant(''), value.filter((v) => typeof v !== 'string'))]) },
  { weight: 1, arbitrary: call('clearHalt', [fc.oneof(value, options({ reason: fc.oneof(weirdString, value), witnesses: fc.oneof(fc.array(value, { maxLength: 3 }), value) }))]) },
  {
    weight: 2,
    arbitrary: call('verify', [
      options({ from: sequenceLike, to: sequenceLike, rangeSize: sequenceLike, signal: fc.oneof(anAbortSignal, value), onProgress: fc.oneof(value, fc.constant(() => { throw new HostileInput('onProgress'); })) }),
    ]),
  },
  // close only with options it must refuse: valid ones close the ledger (checked below).
  {
    weight: 1,
    arbitrary: call('close', [
      fc.oneof(fc.constant(null), fc.constantFrom<HostileKind>('proxy', 'getter', 'revoked').map((kind) => new Hostile(kind)), fc.record({ timeoutMs: fc.constantFrom(Number.NaN, -1, -Infinity, Infinity, '10', {}, [], 10n, Symbol('t')) })),
    ]),
  },
);

async function invoke(ledger: Ledger, { method, args }: Call): Promise<void> {
  args = args.map((arg) => materialize(arg));
  if (method === 'registerAgentKey' && args[1] === 'generated') args = [args[0], generateAgentKeyPair().publicKey, args[2]];
  const fn = (ledger as unknown as Record<string, (...a: unknown[]) => unknown>)[method]!;
  await attempt(method, () => fn.apply(ledger, args));
  if (method === 'close') assert.notEqual(ledger.health().writer, 'closed', 'close with refused options must not close the ledger');
}

// ---------------------------------------------------------------------------------------------

test('every public method of Ledger refuses bad input cleanly and the ledger stays intact', { timeout: 120_000 }, async (t) => {
  const path = join(tempDir(t), 'ledger.db');
  const ledger = await openLedger(path, { durability: 'normal' });
  t.after(() => ledger.close());
  let canaries = 0;
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(calls, { minLength: 1, maxLength: 6 }), async (sequence) => {
        for (const c of sequence) await invoke(ledger, c);
        // Invariants: nothing crashed or halted, the chain verifies, the next valid append works.
        const health = ledger.health();
        assert.equal(health.writer, 'running');
        assert.equal(health.restarts, 0);
        assert.equal(health.halted, false);
        assert.equal(health.pendingAppends, 0);
        const chain = chainOf(path);
        assert.equal(chain.ok, true, JSON.stringify(chain.firstBad));
        const before = ledger.maxSequence();
        const canary = await ledger.append({ type: 'canary', streamId: 'canary', expectedVersion: canaries === 0 ? 'no_stream' : canaries - 1 });
        canaries++;
        assert.equal(canary.sequence, before + 1);
        assert.deepEqual(ledger.get(canary.sequence)?.eventId, canary.eventId);
      }),
      { numRuns: 100, interruptAfterTimeLimit: 25_000 },
    );
  } finally {
    report(t);
    // Whatever the outcome, the file must still verify in full.
    const verified = await verifyLedgerFile(path);
    assert.equal(verified.ok, true, JSON.stringify(verified.firstBad));
    if (ledger.health().writer !== 'closed') {
      const max = ledger.maxSequence();
      assert.deepEqual(ledger.verifyContinuity(1, Math.max(1, max)), max === 0 ? { continuous: false, missing: [1] } : { continuous: true, missing: [] });
    }
  }
});

// ---------------------------------------------------------------------------------------------
// openLedger

/** A validator that misbehaves in one of many ways. */
const oddValidator = fc
  .constantFrom('ok', 'issues', 'null', 'string-issues', 'throws', 'rejects', 'weird-path', 'never-version')
  .map((kind) => ({
    '~standard': {
      version: kind === 'never-version' ? 2 : 1,
      vendor: 'spec',
      validate: (v: unknown): unknown => {
        switch (kind) {
          case 'ok':
            return { value: v };
          case 'issues':
            return { issues: [{ message: 'bad', path: ['a', 0, { key: 'b' }] }] };
          case 'null':
            return null;
          case 'string-issues':
            return { issues: 'bad' };
          case 'throws':
            throw new HostileInput('validate');
          case 'rejects':
            return Promise.reject(new HostileInput('validate async'));
          case 'weird-path':
            return { issues: [{ message: 42, path: [Symbol('s'), null] }] };
          default:
            return { value: v };
        }
      },
    },
  }));

const throwingLogger = fc.constantFrom('all', 'debug', 'warn').map((which) => {
  const method = (level: string) => () => {
    if (which === 'all' || which === level) throw new HostileInput(`logger.${level}`);
  };
  return { debug: method('debug'), info: method('info'), warn: method('warn'), error: method('error'), fatal: method('fatal') };
});

const bad = fc.oneof(weirdNumber, value);
/** Options have many keys: one bad value among them is enough, so each is bad only rarely. */
const rarelyBad = (valid: fc.Arbitrary<unknown>, invalid: fc.Arbitrary<unknown>) => fc.oneof({ weight: 15, arbitrary: valid }, { weight: 1, arbitrary: invalid });
const ledgerOptions = options({
  durability: rarelyBad(fc.constantFrom('full', 'normal'), fc.oneof(fc.constantFrom('FULL', 'off'), value)),
  maxPendingAppends: rarelyBad(fc.integer({ min: 1, max: 10_000 }), bad),
  onFull: rarelyBad(fc.constantFrom('wait', 'reject'), fc.oneof(fc.constant('drop'), value)),
  maxEventBytes: rarelyBad(fc.integer({ min: 1, max: 2 ** 21 }), bad),
  driftThresholdMs: rarelyBad(fc.integer({ min: 1, max: 10_000 }), bad),
  requireSignatures: rarelyBad(fc.boolean(), value),
  startupVerifyRows: rarelyBad(fc.nat(2_000), bad),
  expectedHead: rarelyBad(fc.constant(undefined), fc.oneof(value, fc.record({ sequence: sequenceLike, contentHash: fc.oneof(fc.constant('0'.repeat(64)), weirdString) }))),
  readonly: rarelyBad(fc.boolean(), value),
  onInconsistency: rarelyBad(fc.constantFrom('fail', 'halt'), value),
  eventTypes: rarelyBad(
    fc.dictionary(fc.oneof(validType, weirdString.filter((k) => k.length < 300)), fc.oneof(fc.constant(true), oddValidator), { maxKeys: 3 }),
    fc.oneof(value, fc.dictionary(validType, value, { maxKeys: 2 })),
  ),
  retry: rarelyBad(fc.record({ attempts: fc.nat(3), delayMs: fc.nat(20) }, { requiredKeys: [] }), fc.oneof(value, options({ attempts: bad, delayMs: bad }))),
  maxRestarts: rarelyBad(fc.nat(5), bad),
  restartWindowMs: rarelyBad(fc.integer({ min: 1, max: 60_000 }), bad),
  allowDegraded: rarelyBad(fc.boolean(), value),
  logger: rarelyBad(throwingLogger, value),
});

// A path with a NUL byte has its own test below (it fails today and would mask everything else).
const pathKind = fc.constantFrom('fresh', 'fresh', 'fresh', 'surrogate', 'directory', 'not-a-database', 'empty', 'non-string');

test('openLedger refuses bad options and paths cleanly, and what it opens works', { timeout: 120_000 }, async (t) => {
  const dir = tempDir(t);
  let n = 0;
  await fc.assert(
    fc.asyncProperty(pathKind, ledgerOptions, input, async (kind, generatedOptions, generatedEvent) => {
      const opts = materialize(generatedOptions);
      const event = materialize(generatedEvent);
      const base = join(dir, `run-${n++}`);
      mkdirSync(base);
      const path: unknown = (() => {
        switch (kind) {
          case 'surrogate':
            return join(base, 'a\uD800.db');
          case 'directory':
            return base;
          case 'not-a-database':
            writeFileSync(join(base, 'junk.db'), 'this is not an SQLite file, just text '.repeat(200));
            return join(base, 'junk.db');
          case 'empty':
            return '';
          case 'non-string':
            return opts;
          default:
            return join(base, 'ledger.db');
        }
      })();
      let ledger: Ledger | undefined;
      await attempt(
        'openLedger',
        () =>
          openLedger(path as string, opts as never).then((opened) => {
            ledger = opened;
          }),
        // A fresh file cannot match an arbitrary expectedHead. A directory or a non-SQLite file is
        // reported as WRITE_FAILED today (with a message about an append: see the report).
        kind === 'directory' || kind === 'not-a-database' ? ['WRITER_INCONSISTENCY', 'WRITE_FAILED'] : ['WRITER_INCONSISTENCY'],
        // Known bug, with its own test below: readonly or allowDegraded on a file that is not a
        // ledger lets a raw SqliteError escape. Tolerated here so that it does not mask others.
        (error) => (kind === 'directory' || kind === 'not-a-database') && (error as Error)?.name === 'SqliteError',
      );
      if (!ledger) return;
      try {
        const extra: LedgerErrorCode[] = ledger.health().halted ? ['LEDGER_HALTED'] : [];
        await attempt('append after open', () => ledger!.append(event as never), extra);
        await attempt('append of a plain event after open', () => ledger!.append({ type: 'order_placed', payload: { n: 1 } }), extra);
        assert.equal(ledger.health().restarts, 0);
      } finally {
        await attempt('close', () => ledger!.close({ timeoutMs: 2_000 }));
      }
      if (typeof path === 'string') assert.equal(chainOf(path).ok, true);
    }),
    { numRuns: 200, interruptAfterTimeLimit: 25_000 },
  ).finally(() => report(t));
});

test('a path with a NUL byte is refused with a TypeError, and nothing is written at the truncated path', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  const started = Date.now();
  let opened: Ledger | undefined;
  await assert.rejects(
    openLedger(join(dir, 'audit\0.db')).then((ledger) => {
      opened = ledger;
    }),
    (error: unknown) => {
      assert.ok(error instanceof TypeError, `expected a TypeError, got ${String(error)}`);
      return true;
    },
  ).finally(() => opened?.close());
  assert.ok(Date.now() - started < 1_000, `refused at once, not after ${Date.now() - started} ms of retries`);
  assert.deepEqual(readdirSync(dir), [], 'SQLite truncates at the NUL: ledger and lock file would both be <dir>/audit');
});

test('readonly or allowDegraded on a file that is not a ledger fails with a coded LedgerError', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  const junk = join(dir, 'junk.db');
  writeFileSync(junk, 'this is not an SQLite file, just text '.repeat(200));
  for (const [path, options] of [
    [junk, { readonly: true }],
    [junk, { allowDegraded: true }],
    [dir, { readonly: true }],
    [dir, { allowDegraded: true }],
  ] as const) {
    await assert.rejects(openLedger(path, options), (error: unknown) => {
      assert.ok(error instanceof LedgerError, `${path} ${JSON.stringify(options)}: uncoded ${String(error)}`);
      return true;
    });
  }
});

test('a logger that throws never changes the outcome of an append', { timeout: 30_000 }, async (t) => {
  const throwing = () => {
    throw new HostileInput('logger');
  };
  const logger = { debug: throwing, info: throwing, warn: throwing, error: throwing, fatal: throwing };
  const path = join(tempDir(t), 'ledger.db');
  const ledger = await openLedger(path, { logger });
  t.after(() => ledger.close());
  let outcome: unknown;
  try {
    outcome = await ledger.append({ type: 'order_placed', eventId: 'e-1' });
  } catch (error) {
    outcome = error;
  }
  const committed = ledger.maxSequence();
  assert.equal(committed, 1, 'the event was committed');
  assert.ok(!(outcome instanceof Error), `a committed append must resolve, but it rejected with ${String(outcome)}`);
});
