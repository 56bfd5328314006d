/**
 * Stele against its peers, with the same 200-byte JSON payloads, on the same machine, in the same
 * run, each peer through its own documented API:
 *
 * - hypercore (an append-only log on RocksDB). It never calls fsync, so it is compared with Stele
 *   at durability 'normal' (its like) as well as 'full' (Stele's default), and labelled 'no fsync'.
 * - Emmett-SQLite (an event store on node-sqlite3, WAL, `synchronous` left at its FULL default),
 *   twice: through `getSQLiteEventStore` (what its docs show; it opens and closes a connection per
 *   call on a file), and through its exported functions on one connection held open, the
 *   fastest way to drive it, for information.
 *
 * Scenarios, the same ids as append.ts's: (d) one append awaited at a time, (c) 1,000 appends in
 * flight, (b) batches of 1,000; and reads on a fixture of 1,000-event streams written in batches:
 * (r1) a point read by sequence, (r2) a page of 1,000 decoded events, (r3) a 1,000-event stream,
 * with (r0) a raw better-sqlite3 prepared SELECT of the same row on Stele's file as the floor of
 * (r1). Stele's own (b), (c), (d) are append.ts's; run.ts runs them whenever peers run.
 *
 * Targets (at 'full'; against hypercore also at 'normal'): (b) ≥ 1.0 × hypercore's; (d) ≥ 3 ×
 * hypercore's and ≥ 10 × Emmett's event store; (b) ≥ 1.5 × Emmett's event store; and Stele's (r1)
 * ≥ 0.8 × (r0).
 *
 * The peers live in bench/peers/package.json, not in the root one, so that `npm ci` for users and
 * CI never installs them. Without bench/peers/node_modules the peers are skipped with a message
 * (Stele's reads still run); `npm run bench -- --install-peers` installs them first.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { openLedger } from '../lib/index.ts';
import { EVENT_COLUMNS } from '../lib/format/columns.ts';
import {
  fillLedger,
  GROUP,
  PAYLOAD,
  percentiles,
  timeBatches,
  timeInFlight,
  timeOneAtATime,
  type Durability,
  type Ratio,
  type ScenarioResult,
} from './append.ts';

export interface PeerBenchSettings {
  /** Events timed by (b) and (c) for each peer; a multiple of 1,000 (Stele's come from append.ts). */
  events: number;
  /** Appends timed by (d) for each peer. */
  latencySamples: number;
  /** Events in each read fixture; a multiple of 1,000. */
  readEvents: number;
  /** Most calls timed per read scenario; each also stops after `readBudgetMs`. */
  reads: number;
  readBudgetMs: number;
}

export type PeerScenarioId = 'b' | 'c' | 'd' | 'r0' | 'r1' | 'r2' | 'r3';

export type System = 'stele' | 'better-sqlite3' | 'hypercore' | 'emmett' | 'emmett-connection';

export interface PeerScenarioResult {
  id: PeerScenarioId;
  system: System;
  /** e.g. 'Stele', 'hypercore 11.37.1'. */
  subject: string;
  name: string;
  /** 'full' or 'normal' (SQLite `synchronous`), 'no fsync' (hypercore), '-' for reads. */
  durability: string;
  unit: 'events' | 'reads' | 'pages' | 'streams';
  /** Calls made (events for b, c, d) and their rate; absent when the scenario failed or does not apply. */
  count?: number;
  seconds?: number;
  perSecond?: number;
  p50Us?: number;
  p99Us?: number;
  /** Why there is no figure: the peer's error, or why the scenario does not apply to it. */
  note?: string;
}

export interface PeerBenchResult {
  results: PeerScenarioResult[];
  /** Installed peer versions; undefined when the peers were skipped. */
  versions?: Record<string, string>;
  /** Why the peers were skipped (Stele's reads still ran). */
  skipped?: string;
}

const PEERS_DIR = fileURLToPath(new URL('./peers/', import.meta.url));
export const PEERS_INSTALL_COMMAND = 'cd bench/peers && npm ci';

const SCENARIO_NAMES: Record<PeerScenarioId, string> = {
  b: 'batch of 1,000',
  c: '1,000 appends in flight',
  d: 'one outstanding append',
  r0: 'prepared SELECT by sequence, raw row',
  r1: 'point read by sequence, decoded',
  r2: 'page of 1,000, decoded',
  r3: 'stream of 1,000, decoded',
};
const UNITS: Record<PeerScenarioId, PeerScenarioResult['unit']> = { b: 'events', c: 'events', d: 'events', r0: 'reads', r1: 'reads', r2: 'pages', r3: 'streams' };

/** The same 200 bytes of JSON in every system: Emmett's `data`, hypercore's JSON block, Stele's payload. */
const EMMETT_EVENT = { type: 'bench_event', data: PAYLOAD };
const EMMETT_BATCH = Array.from({ length: GROUP }, () => EMMETT_EVENT);
const BLOCK_BATCH = Array.from({ length: GROUP }, () => PAYLOAD);

// The slices of the peers' APIs used here (their packages are not resolvable from bench/ for the
// type checker, and need not be installed for it).

interface Hypercore {
  ready(): Promise<void>;
  append(blocks: unknown): Promise<{ length: number }>;
  get(index: number): Promise<unknown>;
  close(): Promise<void>;
}
type HypercoreConstructor = new (directory: string, options: { valueEncoding: 'json' }) => Hypercore;

interface EmmettEvent {
  type: string;
  data: unknown;
}
interface EmmettConnection {
  close(): void;
  query<T>(sql: string, values?: unknown[]): Promise<T[]>;
}
interface EmmettSqlite {
  getSQLiteEventStore(options: { fileName: string }): {
    appendToStream(streamName: string, events: EmmettEvent[]): Promise<unknown>;
    readStream(streamName: string): Promise<{ events: unknown[] }>;
  };
  sqliteConnection(options: { fileName: string }): EmmettConnection;
  createEventStoreSchema(connection: EmmettConnection): Promise<void>;
  appendToStream(connection: EmmettConnection, streamName: string, streamType: string, events: EmmettEvent[]): Promise<{ success: boolean }>;
  readMessagesBatch(connection: EmmettConnection, options: { from: bigint; to: bigint } | { after: bigint; batchSize: number }): Promise<{ messages: unknown[] }>;
  readStream(connection: EmmettConnection, streamName: string): Promise<{ events: unknown[] }>;
}

/** The reads a system offers, synchronous or not. Sequences are 1-based; streams are `bench-<index>`. */
interface Reads {
  get?: (sequence: number) => unknown;
  page?: (from: number) => unknown;
  stream?: (index: number) => unknown;
}

/** A peer opened on a fresh directory. */
interface Store extends Reads {
  append(): Promise<unknown>;
  /** 1,000 events atomically, each call into a new stream (`bench-0`, `bench-1`, ...). */
  appendBatch(): Promise<unknown>;
  /** Anything the table should say about the figures since the last call (e.g. retries). */
  takeNote?(): string | undefined;
  close(): Promise<void> | void;
}

interface Peer {
  key: Exclude<System, 'stele' | 'better-sqlite3'>;
  label: string;
  durability: string;
  open(dir: string): Promise<Store>;
  /** Scenarios that do not apply, and why. */
  notApplicable: Partial<Record<PeerScenarioId, string>>;
}

/**
 * Runs Stele's reads, then every peer's scenarios, each write scenario on a fresh store in a temp
 * directory (removed afterwards). Peers are skipped, with the command that installs them, when
 * bench/peers/node_modules is missing.
 */
export async function runPeerBench(settings: PeerBenchSettings, progress: (line: string) => void = () => {}): Promise<PeerBenchResult> {
  for (const [name, value] of Object.entries({ events: settings.events, readEvents: settings.readEvents })) {
    if (!Number.isSafeInteger(value) || value < GROUP || value % GROUP !== 0) throw new RangeError(`${name} must be a multiple of ${GROUP}`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'stele-bench-peers-'));
  const results: PeerScenarioResult[] = [];
  const record = (result: PeerScenarioResult) => {
    results.push(result);
    const figure = result.perSecond === undefined ? result.note : `${Math.round(result.perSecond).toLocaleString('en-US')} ${result.unit}/s`;
    progress(`  ${result.id} ${result.subject}: ${figure}`);
  };
  let sub = 0;
  const fresh = () => {
    const path = join(dir, String(++sub));
    mkdirSync(path);
    return path;
  };
  try {
    await steleReads(join(fresh(), 'ledger.db'), settings, record);
    const peers = await loadPeers();
    if (typeof peers === 'string') return { results, skipped: peers };
    for (const peer of peers.list) {
      const subject: Subject = { system: peer.key, label: peer.label, durability: peer.durability };
      for (const id of ['d', 'c', 'b', 'reads'] as const) {
        if (id !== 'reads' && peer.notApplicable[id]) {
          record(row(id, subject, { note: peer.notApplicable[id] }));
          continue;
        }
        const store = await peer.open(fresh());
        try {
          if (id === 'reads') await peerReads(peer, subject, store, settings, record);
          else record(row(id, subject, { ...(await timeWrites(id, store, settings)), note: store.takeNote?.() }));
        } catch (error) {
          record(row(id === 'reads' ? 'r1' : id, subject, { note: `failed: ${firstLine(error)}` }));
        } finally {
          await store.close();
        }
      }
    }
    return { results, versions: peers.versions };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Target ratios and, for information, the like-for-like ones: Stele's (b), (c), (d) from append.ts
 * (at each durability that ran) over each peer's, and Stele's (r1) over (r0).
 */
export function peerRatios(stele: readonly ScenarioResult[], peers: readonly PeerScenarioResult[]): Ratio[] {
  const rate = (id: PeerScenarioId, system: System) => peers.find((r) => r.id === id && r.system === system)?.perSecond;
  const ratios: Ratio[] = [];
  const r1 = rate('r1', 'stele');
  const r0 = rate('r0', 'better-sqlite3');
  if (r1 && r0) ratios.push(judged('(r1)/(r0) Stele get ÷ raw SELECT', undefined, r1 / r0, 0.8));
  const comparisons: Array<{ id: 'b' | 'c' | 'd'; peer: Peer['key']; min?: number; atNormal?: boolean }> = [
    { id: 'b', peer: 'hypercore', min: 1.0, atNormal: true },
    { id: 'c', peer: 'hypercore', min: 15 },
    { id: 'd', peer: 'hypercore', min: 3, atNormal: true },
    { id: 'b', peer: 'emmett', min: 1.5 },
    { id: 'd', peer: 'emmett', min: 10 },
    { id: 'b', peer: 'emmett-connection', min: 1 },
    { id: 'd', peer: 'emmett-connection' },
  ];
  const names: Record<Peer['key'], string> = { hypercore: 'hypercore', emmett: 'Emmett event store', 'emmett-connection': 'Emmett open connection' };
  for (const durability of ['full', 'normal'] as const) {
    for (const { id, peer, min, atNormal } of comparisons) {
      const ours = stele.find((r) => r.id === id && r.durability === durability)?.eventsPerSecond;
      const theirs = rate(id, peer);
      if (!ours || !theirs) continue;
      const name = `(${id}) Stele ÷ ${names[peer]}`;
      ratios.push(min !== undefined && (durability === 'full' || atNormal) ? judged(name, durability, ours / theirs, min) : { name, durability, value: ours / theirs });
    }
  }
  return ratios;
}

function judged(name: string, durability: Durability | undefined, value: number, min: number): Ratio {
  return { name, durability, value, target: `>= ${min}`, met: value >= min };
}

/**
 * Installs the peers from bench/peers/package-lock.json. Opt-in (`--install-peers`), never
 * automatic: it fetches packages and compiles node-sqlite3 from source, about two minutes of
 * both cores, which a benchmark run should not start behind anyone's back (least of all in CI).
 */
export function installPeers(): void {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const { status } = spawnSync(npm, ['ci', '--no-audit', '--no-fund'], { cwd: PEERS_DIR, stdio: 'inherit' });
  if (status !== 0) throw new Error(`installing the peers failed (npm ci exited with ${status}); try: ${PEERS_INSTALL_COMMAND}`);
}

/** The peers, or why they are skipped. Loaded with bench/peers/'s own resolution, not the root's. */
async function loadPeers(): Promise<{ list: Peer[]; versions: Record<string, string> } | string> {
  if (!existsSync(join(PEERS_DIR, 'node_modules'))) {
    return `bench/peers/node_modules is missing. Install the peers once with \`${PEERS_INSTALL_COMMAND}\` (about 2 min: node-sqlite3 compiles from source), or run \`npm run bench -- --install-peers\`.`;
  }
  const require = createRequire(join(PEERS_DIR, 'package.json'));
  const version = (name: string) => (JSON.parse(readFileSync(join(PEERS_DIR, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  let HypercoreClass: HypercoreConstructor;
  let emmett: EmmettSqlite;
  try {
    HypercoreClass = require('hypercore') as HypercoreConstructor;
    emmett = require('@event-driven-io/emmett-sqlite') as EmmettSqlite;
  } catch (error) {
    return `the peers in bench/peers/node_modules do not load (${firstLine(error)}). Reinstall them with \`${PEERS_INSTALL_COMMAND}\`.`;
  }
  const versions = { hypercore: version('hypercore'), '@event-driven-io/emmett-sqlite': version('@event-driven-io/emmett-sqlite'), sqlite3: version('sqlite3') };
  const emmettLabel = `Emmett-SQLite ${versions['@event-driven-io/emmett-sqlite']}`;
  const emmettDurability = await synchronousOf(emmett);

  const hypercore: Peer = {
    key: 'hypercore',
    label: `hypercore ${versions.hypercore}`,
    durability: 'no fsync',
    notApplicable: { r3: 'no streams inside a core (a core is one stream): see (r2)' },
    async open(dir) {
      const core = new HypercoreClass(join(dir, 'core'), { valueEncoding: 'json' });
      await core.ready();
      return {
        append: () => core.append(PAYLOAD),
        appendBatch: () => core.append(BLOCK_BATCH),
        get: (sequence) => core.get(sequence - 1),
        // Parallel gets are hypercore's fastest way to a range here (createReadStream is ~3× slower).
        page: (from) => Promise.all(Array.from({ length: GROUP }, (_, i) => core.get(from - 1 + i))),
        close: () => core.close(),
      };
    },
  };
  const eventStore: Peer = {
    key: 'emmett',
    label: `${emmettLabel} event store`,
    durability: emmettDurability,
    notApplicable: {
      r1: 'the event store reads whole streams only: see the open connection',
      r2: 'the event store reads whole streams only: see the open connection',
    },
    async open(dir) {
      const store = emmett.getSQLiteEventStore({ fileName: join(dir, 'emmett.db') });
      let streams = 0;
      // Under load an append now and then fails its COMMIT with SQLITE_BUSY "SQL statements in
      // progress" (seen with its per-call connections, whose startup PRAGMA is not awaited). The
      // append rolled back, so it is retried, as its users would have to; retries get a note.
      let retries = 0;
      const retryBusy = async <T>(append: () => Promise<T>): Promise<T> => {
        for (let attempt = 1; ; attempt++) {
          try {
            return await append();
          } catch (error) {
            if ((error as { code?: string }).code !== 'SQLITE_BUSY' || attempt === 3) throw error;
            retries++;
          }
        }
      };
      return {
        append: () => hushed(() => retryBusy(() => store.appendToStream('bench-single', [EMMETT_EVENT]))),
        appendBatch: () => hushed(() => retryBusy(() => store.appendToStream(`bench-${streams++}`, EMMETT_BATCH))),
        stream: async (index) => (await store.readStream(`bench-${index}`)).events,
        takeNote: () => {
          const note = retries > 0 ? `${retries} appends retried after SQLITE_BUSY` : undefined;
          retries = 0;
          return note;
        },
        // It opens and closes a connection per call: nothing stays open.
        close: () => {},
      };
    },
  };
  const openConnection: Peer = {
    key: 'emmett-connection',
    label: `${emmettLabel} open connection`,
    durability: emmettDurability,
    notApplicable: { c: 'one connection runs one transaction at a time: concurrent appends would share it' },
    async open(dir) {
      const connection = emmett.sqliteConnection({ fileName: join(dir, 'emmett.db') });
      await emmett.createEventStoreSchema(connection);
      let streams = 0;
      const appended = (result: { success: boolean }) => {
        if (!result.success) throw new Error('Emmett refused an append');
      };
      return {
        append: () => hushed(async () => appended(await emmett.appendToStream(connection, 'bench-single', 'bench', [EMMETT_EVENT]))),
        appendBatch: () => hushed(async () => appended(await emmett.appendToStream(connection, `bench-${streams++}`, 'bench', EMMETT_BATCH))),
        get: async (sequence) => (await emmett.readMessagesBatch(connection, { from: BigInt(sequence), to: BigInt(sequence) })).messages[0],
        page: async (from) => (await emmett.readMessagesBatch(connection, { after: BigInt(from - 1), batchSize: GROUP })).messages,
        stream: async (index) => (await emmett.readStream(connection, `bench-${index}`)).events,
        close: () => connection.close(),
      };
    },
  };
  return { list: [hypercore, eventStore, openConnection], versions };
}

/** The `synchronous` level every Emmett connection of this sqlite3 build starts with: its durability. */
async function synchronousOf(emmett: EmmettSqlite): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'stele-bench-probe-'));
  const connection = emmett.sqliteConnection({ fileName: join(dir, 'probe.db') });
  try {
    const [level] = await connection.query<{ synchronous: number }>('PRAGMA synchronous');
    return ['off', 'normal', 'full', 'extra'][level?.synchronous ?? -1] ?? 'unknown';
  } finally {
    connection.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function timeWrites(id: 'b' | 'c' | 'd', store: Store, settings: PeerBenchSettings): Promise<Partial<PeerScenarioResult>> {
  if (id === 'd') {
    const { ms, p50Us, p99Us } = await timeOneAtATime(() => store.append(), settings.latencySamples);
    return { count: settings.latencySamples, seconds: ms / 1000, perSecond: settings.latencySamples / (ms / 1000), p50Us, p99Us };
  }
  const ms = id === 'b' ? await timeBatches(() => store.appendBatch(), settings.events) : await inFlight(store, settings.events);
  return { count: settings.events, seconds: ms / 1000, perSecond: settings.events / (ms / 1000) };
}

/**
 * (c) for a peer that may fail it (Emmett's event store does): when a group fails, the rest of
 * that group settles before the error is passed on, so that none of it outlives the scenario.
 */
async function inFlight(store: Store, events: number): Promise<number> {
  const group: Promise<unknown>[] = new Array(GROUP);
  let calls = 0;
  const append = () => (group[calls++ % GROUP] = store.append());
  try {
    return await timeInFlight(append, events);
  } catch (error) {
    await Promise.allSettled(group);
    throw error;
  }
}

let hushes = 0;
let consoleLog = console.log;
/**
 * Runs an Emmett append with console.log muted: its transaction wrapper logs every error it
 * rethrows, which would land in the middle of the table; the errors are reported here instead.
 * Counted, so that overlapping appends (scenario c) restore it only when the last one settles.
 */
async function hushed<T>(append: () => Promise<T>): Promise<T> {
  if (hushes++ === 0) {
    consoleLog = console.log;
    console.log = () => {};
  }
  try {
    return await append();
  } finally {
    if (--hushes === 0) console.log = consoleLog;
  }
}

/** (r0)–(r3) on Stele: a ledger filled in 1,000-event streams, and a raw connection to the same file. */
async function steleReads(path: string, settings: PeerBenchSettings, record: (result: PeerScenarioResult) => void): Promise<void> {
  // Reads do not depend on durability; 'normal' only makes the fill quicker.
  const ledger = await openLedger(path, { durability: 'normal' });
  const raw = new Database(path, { readonly: true, fileMustExist: true });
  try {
    await fillLedger(ledger, settings.readEvents);
    const select = raw.prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE sequence = ?`);
    // (r0) and (r1) read the same rows in the same order.
    const points = pointArgs(settings);
    const baseline: Subject = { system: 'better-sqlite3', label: `better-sqlite3 ${betterSqliteVersion()} on Stele's file`, durability: '-' };
    record(row('r0', baseline, await timeReads(counted((sequence) => select.get(sequence), 1), points, settings)));
    const steleReads: Reads = {
      get: (sequence) => ledger.get(sequence),
      page: (from) => ledger.readAll({ from, limit: GROUP }),
      stream: (index) => ledger.readStream(`bench-${index}`),
    };
    await reads({ system: 'stele', label: 'Stele', durability: '-' }, steleReads, settings, record, {}, points);
  } finally {
    raw.close();
    await ledger.close();
  }
}

async function peerReads(peer: Peer, subject: Subject, store: Store, settings: PeerBenchSettings, record: (result: PeerScenarioResult) => void): Promise<void> {
  for (let i = 0; i < settings.readEvents / GROUP; i++) await store.appendBatch();
  await reads(subject, store, settings, record, peer.notApplicable);
}

/** (r1)–(r3) on a store holding `readEvents` events in 1,000-event streams, at random places. */
async function reads(
  subject: Subject,
  store: Reads,
  settings: PeerBenchSettings,
  record: (result: PeerScenarioResult) => void,
  notApplicable: Partial<Record<PeerScenarioId, string>> = {},
  points = pointArgs(settings),
): Promise<void> {
  const streams = settings.readEvents / GROUP;
  const scenarios: Array<[PeerScenarioId, ((arg: number) => unknown) | undefined, (i: number) => number, number]> = [
    ['r1', store.get, points, 1],
    ['r2', store.page, () => 1 + randomInt(settings.readEvents - GROUP + 1), GROUP],
    ['r3', store.stream, () => randomInt(streams), GROUP],
  ];
  for (const [id, read, args, expected] of scenarios) {
    if (!read) {
      record(row(id, subject, { note: notApplicable[id] ?? 'not offered' }));
      continue;
    }
    try {
      record(row(id, subject, await timeReads(counted(read, expected), args, settings)));
    } catch (error) {
      record(row(id, subject, { note: `failed: ${firstLine(error)}` }));
    }
  }
}

/** Random sequences in [1, readEvents], made before timing. */
function pointArgs(settings: PeerBenchSettings): (i: number) => number {
  const sequences = Int32Array.from({ length: 65_536 }, () => 1 + randomInt(settings.readEvents));
  return (i) => sequences[i & 0xffff]!;
}

/** Checks that a read found what it should (one event, or `expected` events), without timing much. */
function counted(read: (arg: number) => unknown, expected: number): (arg: number) => unknown {
  const check = (result: unknown) => {
    const found = Array.isArray(result) ? result.length : result == null ? 0 : 1;
    if (found !== expected) throw new Error(`a read returned ${found} events instead of ${expected}`);
    return result;
  };
  return (arg) => {
    const result = read(arg);
    return result instanceof Promise ? result.then(check) : check(result);
  };
}

/**
 * Calls `read(args(i))` until `settings.reads` calls or `readBudgetMs`, whichever comes first,
 * after an untimed warm-up; per-call latency. Synchronous reads (Stele's, better-sqlite3's) are
 * not awaited, so that they pay no microtask the caller would not pay either.
 */
async function timeReads(read: (arg: number) => unknown, args: (i: number) => number, settings: PeerBenchSettings): Promise<Partial<PeerScenarioResult>> {
  const isAsync = read(args(0)) instanceof Promise;
  const warmUp = Math.min(1_000, Math.ceil(settings.reads / 10));
  for (let i = 0; i < warmUp; i++) await read(args(i));
  const latencies = new Float64Array(settings.reads);
  const start = performance.now();
  const deadline = start + settings.readBudgetMs;
  let count = 0;
  while (count < settings.reads && (count & 63 || performance.now() < deadline)) {
    const t = performance.now();
    if (isAsync) await read(args(count));
    else read(args(count));
    latencies[count++] = performance.now() - t;
  }
  const ms = performance.now() - start;
  return { count, seconds: ms / 1000, perSecond: count / (ms / 1000), ...percentiles(latencies.subarray(0, count)) };
}

function betterSqliteVersion(): string {
  const require = createRequire(import.meta.url);
  return (require('better-sqlite3/package.json') as { version: string }).version;
}

interface Subject {
  system: System;
  label: string;
  durability: string;
}

function row(id: PeerScenarioId, subject: Subject, figures: Partial<PeerScenarioResult>): PeerScenarioResult {
  return { id, system: subject.system, subject: subject.label, name: SCENARIO_NAMES[id], durability: id.startsWith('r') ? '-' : subject.durability, unit: UNITS[id], ...figures };
}

function randomInt(below: number): number {
  return Math.floor(Math.random() * below);
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}
