/**
 * The `stele` command line, run as users run it: a child process per command against real ledger
 * files, its stdout, stderr and exit code asserted exactly.
 *
 * The commands run the compiled bin with plain `node`: the package is compiled once per run of
 * this file, into a temp folder laid out as an install (spec/helpers/built-package.ts). A child
 * process started through tsx pays about a second of startup and transpiling; the compiled bin
 * starts in a fraction of that. One test runs the source entry, `lib/cli/stele.ts`, through tsx.
 * Tests use separate files (or only read shared ones), so they run concurrently.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import superjson from 'superjson';
import { openLedger, type AppendInput, type AppendResult } from '../lib/index.ts';
import { EVENT_COLUMNS, type EventRow } from '../lib/format/columns.ts';
import { rowHash } from '../lib/format/hash-bytes.ts';
import type { EventJson } from '../lib/cli/event-json.ts';
import { currentSchemaVersion } from '../lib/sqlite/migrations.ts';
import { generateKeyPair, verifyCheckpoint } from '../lib/proofs/index.ts';
import { buildPackage, type BuiltPackage } from './helpers/built-package.ts';
import { buildLedger, copyLedgerFile, readRow, tamper } from './helpers/tamper.ts';
import { runChild } from './helpers/run-child.ts';
import { reopen, tempDir } from './helpers/temp-ledger.ts';

const ROOT = resolve(import.meta.dirname, '..');
/** The source entry, run through tsx by one test. */
const SOURCE_CLI = join(ROOT, 'lib/cli/stele.ts');

/**
 * The compiled package. Its build (tsc, several seconds on one core) starts in the outer suite's
 * `before` hook and goes on while the tests build their ledgers in process; every CLI run awaits
 * it, and fails with tsc's output if the build failed.
 */
let built: Promise<BuiltPackage>;

/** The compiled bin, package.json's `bin.stele`, once the package is built. */
async function bin(): Promise<string> {
  return join((await built).dir, 'dist/cli/stele.js');
}

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * At most this many child processes at once: the tests run concurrently and each command is a
 * few hundred milliseconds of CPU, so more would only contend for the cores.
 */
const MAX_CHILDREN = 2 * availableParallelism();
let children = 0;
const queued: (() => void)[] = [];

/** Runs `node ...nodeArgs` and resolves when it exits, whatever its exit code. */
async function node(nodeArgs: string[], cwd = ROOT): Promise<Outcome> {
  while (children >= MAX_CHILDREN) await new Promise<void>((next) => queued.push(next));
  children++;
  try {
    return await new Promise((done) => {
      execFile(process.execPath, nodeArgs, { cwd, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
        done({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
      });
    });
  } finally {
    children--;
    queued.shift()?.();
  }
}

/** Runs `stele ...args` (the compiled bin, with plain node) and resolves when it exits, whatever its exit code. */
async function stele(...args: string[]): Promise<Outcome> {
  return node([await bin(), ...args]);
}

/** `stele ...args --json`, expected to exit with `code`; its stdout parsed. */
async function steleJson(code: number, ...args: string[]): Promise<unknown> {
  const run = await stele(...args, '--json');
  assert.equal(run.code, code, run.stderr);
  assert.equal(run.stderr, '');
  return JSON.parse(run.stdout);
}

/** Every row of a ledger file as stored. */
function storedRows(path: string): EventRow[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(`SELECT ${EVENT_COLUMNS} FROM events ORDER BY sequence`).all() as EventRow[];
  } finally {
    db.close();
  }
}

/** The stored row an exported line stands for: what `export` promises to preserve exactly. */
function rowOf(event: EventJson): EventRow {
  const text = (value: unknown) => (value === undefined ? null : JSON.stringify(value));
  return {
    sequence: event.sequence,
    event_id: event.eventId,
    stream_id: event.streamId,
    stream_version: event.streamVersion,
    type: event.type,
    payload: text(event.payload),
    payload_meta: text(event.payloadMeta),
    metadata: text(event.metadata),
    metadata_meta: text(event.metadataMeta),
    agent_id: event.agentId ?? null,
    signature: event.signature ?? null,
    local_timestamp: Date.parse(event.localTimestamp),
    authority_timestamp: Date.parse(event.authorityTimestamp),
    prev_hash: event.prevHash,
    content_hash: event.contentHash,
  };
}

function jsonLines(text: string): EventJson[] {
  assert.ok(text.endsWith('\n'), 'output ends with a newline');
  return text.slice(0, -1).split('\n').map((line) => JSON.parse(line) as EventJson);
}

const LONG_AGO = Date.parse('2020-01-01T00:00:00.000Z');

/**
 * Four events covering what the JSON form must carry: superjson types (BigInt, Date, Set),
 * metadata, an event without payload, the default stream, two streams. The first two carry a
 * local timestamp far from the database's clock, so they record clock drift warnings.
 */
async function buildSmallLedger(path: string): Promise<AppendResult[]> {
  const ledger = await openLedger(path);
  try {
    return [
      await ledger.append({ type: 'opened', streamId: 'acct-1', eventId: 'ev-1', payload: { owner: 'ada' }, metadata: { by: 'spec' }, localTimestamp: new Date(LONG_AGO) }),
      await ledger.append({
        type: 'deposited',
        streamId: 'acct-1',
        eventId: 'ev-2',
        payload: { cents: 500n, at: new Date('2026-01-02T03:04:05.678Z'), tags: new Set(['a', 'b']) },
        localTimestamp: new Date(LONG_AGO + 1_000),
      }),
      await ledger.append({ type: 'note', eventId: 'ev-3' }),
      await ledger.append({ type: 'deposited', streamId: 'acct-2', eventId: 'ev-4', payload: { cents: 7 } }),
    ];
  } finally {
    await ledger.close();
  }
}

/** A ledger of one event, then halted with the reason 'disk check'; returns the halt event. */
async function buildHaltedLedger(path: string): Promise<AppendResult> {
  const ledger = await openLedger(path);
  try {
    await ledger.append({ type: 'tick' });
    return await ledger.halt('disk check');
  } finally {
    await ledger.close();
  }
}

describe('stele command line', { concurrency: true }, () => {
  before(() => {
    built = buildPackage();
    built.catch(() => {}); // reported by each test that awaits it
  });
  after(async () => (await built.catch(() => undefined))?.remove());

  describe('stele on a small ledger', { concurrency: true }, () => {
    let dir: string;
    let small: string;
    let results: AppendResult[];
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'stele-cli-'));
      small = join(dir, 'small.db');
      results = await buildSmallLedger(small);
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    /** What `get --json` prints for event n (1-based), given its expected stored fields. */
    const expected = (n: number, fields: Partial<EventJson>): EventJson => {
      const r = results[n - 1]!;
      return {
        sequence: r.sequence,
        eventId: r.eventId,
        streamId: r.streamId,
        streamVersion: r.streamVersion,
        type: '',
        ...fields,
        localTimestamp: r.localTimestamp.toISOString(),
        authorityTimestamp: r.authorityTimestamp.toISOString(),
        prevHash: r.prevHash,
        contentHash: r.contentHash,
      };
    };

    test('head prints the newest sequence and content hash', async () => {
      assert.deepEqual(await steleJson(0, 'head', small), { sequence: 4, contentHash: results[3]!.contentHash });
      const text = await stele('head', small);
      assert.deepEqual(text, { code: 0, stdout: `#4 ${results[3]!.contentHash}\n`, stderr: '' });
    });

    test('get prints the event as stored: superjson annotations beside the JSON, absent values omitted', async () => {
      const second = await steleJson(0, 'get', small, '2');
      assert.deepEqual(
        second,
        expected(2, {
          type: 'deposited',
          payload: { cents: '500', at: '2026-01-02T03:04:05.678Z', tags: ['a', 'b'] },
          payloadMeta: { values: { cents: ['bigint'], at: ['Date'], tags: ['set'] }, v: 1 },
        }),
      );
      const { payload, payloadMeta } = second as EventJson;
      assert.deepEqual(superjson.deserialize({ json: payload as never, meta: payloadMeta as never }), {
        cents: 500n,
        at: new Date('2026-01-02T03:04:05.678Z'),
        tags: new Set(['a', 'b']),
      });
      assert.deepEqual(await steleJson(0, 'get', small, '1'), expected(1, { type: 'opened', payload: { owner: 'ada' }, metadata: { by: 'spec' } }));
      assert.deepEqual(await steleJson(0, 'get', small, '3'), expected(3, { type: 'note' }));
      const text = await stele('get', small, '3');
      assert.deepEqual(text, { code: 0, stdout: `${JSON.stringify(expected(3, { type: 'note' }), null, 2)}\n`, stderr: '' });
    });

    test('get of a sequence past the head exits 1 with EVENT_NOT_FOUND', async () => {
      assert.deepEqual(await stele('get', small, '99'), {
        code: 1,
        stdout: '',
        stderr: 'stele: EVENT_NOT_FOUND: no event at sequence 99 (the newest is #4)\n',
      });
    });

    test('tail prints the newest events, one per line', async () => {
      const two = await stele('tail', small, '-n', '2', '--json');
      assert.equal(two.code, 0, two.stderr);
      assert.deepEqual(jsonLines(two.stdout), [expected(3, { type: 'note' }), expected(4, { type: 'deposited', payload: { cents: 7 } })]);
      const all = await stele('tail', small);
      const at = (n: number) => results[n - 1]!.authorityTimestamp.toISOString();
      assert.deepEqual(all, {
        code: 0,
        stdout:
          `#1 ${at(1)} acct-1@0 opened {"owner":"ada"}\n` +
          `#2 ${at(2)} acct-1@1 deposited {"cents":"500","at":"2026-01-02T03:04:05.678Z","tags":["a","b"]}\n` +
          `#3 ${at(3)} $default@0 note\n` +
          `#4 ${at(4)} acct-2@0 deposited {"cents":7}\n`,
        stderr: '',
      });
    });

    test('stats reports counts, size on disk, time span, halt state and schema version', async () => {
      const db = new Database(small, { readonly: true });
      const createdAt = db.prepare("SELECT value FROM ledger_meta WHERE key = 'created_at'").pluck().get() as string;
      db.close();
      const size = statSync(small).size + (statSync(`${small}-wal`, { throwIfNoEntry: false })?.size ?? 0);
      assert.deepEqual(await steleJson(0, 'stats', small), {
        path: small,
        events: 4,
        streams: 3,
        sizeBytes: size,
        firstTimestamp: results[0]!.authorityTimestamp.toISOString(),
        lastTimestamp: results[3]!.authorityTimestamp.toISOString(),
        head: { sequence: 4, contentHash: results[3]!.contentHash },
        halted: false,
        haltReason: null,
        schemaVersion: currentSchemaVersion(),
        createdAt,
        requireSignatures: false,
        clockDriftWarnings: 2,
      });
    });

    test('verify of an intact ledger exits 0, with no progress bar off a terminal', async () => {
      assert.deepEqual(await stele('verify', small), { code: 0, stdout: 'OK: 4 events verified, chain intact\n', stderr: '' });
      assert.deepEqual(await steleJson(0, 'verify', small), { ok: true, checked: 4 });
    });

    test('verify --to past the head reports the first missing sequence', async () => {
      assert.deepEqual(await steleJson(1, 'verify', small, '--to', '6'), { ok: false, checked: 4, firstBad: { sequence: 5, reason: 'sequence_gap', expected: 5 } });
    });

    test('export writes each stored row as one JSON line, to stdout or to a file', async (t) => {
      const out = join(tempDir(t), 'small.jsonl');
      assert.deepEqual(await steleJson(0, 'export', small, '--out', out), { events: 4, from: 1, to: 4, out });
      const toStdout = await stele('export', small, '--format', 'jsonl');
      assert.deepEqual(toStdout, { code: 0, stdout: readFileSync(out, 'utf8'), stderr: '' });
      assert.deepEqual(jsonLines(toStdout.stdout).map(rowOf), storedRows(small));
    });

    test('export --out never replaces the ledger or its files, nor an existing file without --force', async (t) => {
      const dir = tempDir(t);
      const path = join(dir, 'own.db');
      copyLedgerFile(small, path);
      const link = join(dir, 'link.db');
      symlinkSync(path, link);
      writeFileSync(join(dir, 'old.jsonl'), 'keep\n');
      const before = readFileSync(path);
      const refusals = await Promise.all(
        [path, link, `${path}-wal`, `${path}-shm`, `${path}-head.json`, `${path}-writer.lock`].map(async (out) => ({
          out,
          plain: await stele('export', path, '--out', out),
          forced: await stele('export', link, '--out', out, '--force'),
        })),
      );
      for (const { out, plain, forced } of refusals) {
        for (const run of [plain, forced]) {
          assert.equal(run.code, 1, out);
          assert.match(run.stderr, /^stele: OUT_IS_LEDGER: --out .* is the ledger/, out);
        }
      }
      assert.deepEqual(readFileSync(path), before);
      const existing = join(dir, 'old.jsonl');
      assert.deepEqual(await stele('export', path, '--out', existing), {
        code: 1,
        stdout: '',
        stderr: `stele: OUT_EXISTS: --out ${existing} already exists; choose a new file, or pass --force to replace it\n`,
      });
      assert.equal(readFileSync(existing, 'utf8'), 'keep\n');
      assert.deepEqual(await steleJson(0, 'export', path, '--out', existing, '--force'), { events: 4, from: 1, to: 4, out: existing });
      assert.equal(readFileSync(existing, 'utf8').split('\n').length, 5);
    });

    test('a halted ledger says so in stats', async (t) => {
      const path = join(tempDir(t), 'halted.db');
      const halt = await buildHaltedLedger(path);
      const stats = (await steleJson(0, 'stats', path)) as Record<string, unknown>;
      assert.deepEqual(
        { events: stats.events, streams: stats.streams, head: stats.head, halted: stats.halted, haltReason: stats.haltReason },
        { events: 2, streams: 2, head: { sequence: 2, contentHash: halt.contentHash }, halted: true, haltReason: 'disk check' },
      );
    });

    test('usage errors exit 2 and name the problem', async () => {
      const config = (name: string, text: string) => {
        const path = join(dir, name);
        writeFileSync(path, text);
        return path;
      };
      const cases: [string[], string][] = [
        [[], 'no command given'],
        [['frobnicate', small], "unknown command 'frobnicate'; commands: verify, head, get, tail, export, stats, append, replicate, verify-replica, restore, checkpoint, prove, verify-proof, witness"],
        [['get', small], 'get takes <file> <seq>, got 1 argument'],
        [['get', small, '2x'], "seq must be a positive integer, got '2x'"],
        [['tail', small, '-n', '1.5'], "--lines must be an integer >= 0, got '1.5'"],
        [['export', small, '--format', 'csv'], "--format must be jsonl, got 'csv'"],
        [['verify', small, '--from', '10', '--to', '5'], 'to (5) is before from (10)'],
        [['head', small, '--config', config('bad.json', '{"retry":')], `--config ${join(dir, 'bad.json')}: not valid JSON (Unexpected end of JSON input)`],
        [
          ['head', small, '--config', config('typo.json', '{"durabilty":"full"}')],
          `--config ${join(dir, 'typo.json')}: unknown setting "durabilty"; known settings: retry, driftThresholdMs, durability`,
        ],
        [['head', small, '--config', config('value.json', '{"durability":"fast"}')], `--config ${join(dir, 'value.json')}: durability must be one of 'full', 'normal', got 'fast'`],
        [
          ['head', small, '--config', config('retry.json', '{"retry":{"attempts":-1}}')],
          `--config ${join(dir, 'retry.json')}: retry.attempts must be an integer >= 0, got -1`,
        ],
      ];
      const runs = await Promise.all(cases.map(([args]) => stele(...args)));
      runs.forEach((run, i) => {
        assert.deepEqual(run, { code: 2, stdout: '', stderr: `stele: USAGE: ${cases[i]![1]}\nRun 'stele --help' for usage.\n` }, cases[i]![0].join(' '));
      });
      const unknownOption = await stele('head', small, '--bogus');
      assert.equal(unknownOption.code, 2);
      assert.match(unknownOption.stderr, /^stele: USAGE: Unknown option '--bogus'/);
    });

    test('with --json, an error is one JSON line on stderr', async () => {
      assert.deepEqual(await stele('get', small, '99', '--json'), {
        code: 1,
        stdout: '',
        stderr: `${JSON.stringify({ error: { code: 'EVENT_NOT_FOUND', message: 'no event at sequence 99 (the newest is #4)', details: {} } })}\n`,
      });
      assert.deepEqual(await stele('tail', small, '-n', 'x', '--json'), {
        code: 2,
        stdout: '',
        stderr: `${JSON.stringify({ error: { code: 'USAGE', message: "--lines must be an integer >= 0, got 'x'", details: {} } })}\n`,
      });
    });

    test('a missing file or a file that is not a ledger exits 1 with a code', async () => {
      const missing = join(dir, 'missing.db');
      assert.deepEqual(await stele('stats', missing), { code: 1, stdout: '', stderr: `stele: FILE_NOT_FOUND: no ledger file at ${missing}\n` });
      const text = join(dir, 'notes.txt');
      writeFileSync(text, 'not a database');
      const run = await stele('verify', text, '--json');
      assert.equal(run.code, 1);
      assert.deepEqual(JSON.parse(run.stderr), {
        error: {
          code: 'NOT_A_LEDGER',
          message: 'the file cannot be read as a ledger (not SQLite, a directory, unreadable); check the path (file is not a database)',
          details: { path: text, sqliteCode: 'SQLITE_NOTADB' },
        },
      });
    });

    test('--help describes the tool and each command, and exits 0', async () => {
      const tool = await stele('--help');
      assert.equal(tool.code, 0);
      const lines = tool.stdout.split('\n');
      assert.equal(lines[0], 'Usage: stele <command> <file> [options]');
      for (const name of ['verify', 'head', 'get', 'tail', 'export', 'stats', 'append', 'replicate', 'verify-replica', 'restore']) {
        assert.ok(lines.some((line) => line.startsWith(`  ${name} `)), `the tool's help lists ${name}`);
      }
      const config = lines.findIndex((line) => line.startsWith('  --config FILE'));
      assert.deepEqual(lines.slice(config, config + 2), [
        '  --config FILE   writer settings as JSON: {"durability","retry","driftThresholdMs"}. Only append',
        '                  uses them; the other commands check the file and ignore it',
      ]);
      const usages = await Promise.all(
        [
          ['verify', 'Usage: stele verify <file> [--from SEQ] [--to SEQ] [--trusted-witness KEY ...] [--witness-quorum N] [--log-key VKEY] [--json]'],
          ['head', 'Usage: stele head <file> [--json]'],
          ['get', 'Usage: stele get <file> <seq> [--json]'],
          ['tail', 'Usage: stele tail <file> [-n N] [--follow] [--json]'],
          ['export', 'Usage: stele export <file> [--format jsonl] [--out FILE] [--force] [--from SEQ] [--json]'],
          ['stats', 'Usage: stele stats <file> [--json]'],
          [
            'append',
            'Usage: stele append <file> --type T [--stream S] [--payload JSON] [--metadata JSON] [--event-id ID] [--expected-version V] [--config FILE] [--json]',
          ],
          ['replicate', 'Usage: stele replicate <file> <dest> [--json]'],
          ['verify-replica', 'Usage: stele verify-replica <file> <replica> [--json]'],
          ['restore', 'Usage: stele restore <file> --from <postgres-url> --ledger <name> [--json]'],
        ].map(async ([name, usage]) => ({ usage: usage!, run: await stele(name!, '--help') })),
      );
      for (const { usage, run } of usages) {
        assert.equal(run.code, 0);
        assert.equal(run.stdout.split('\n')[0], usage);
        // Only append uses --config: no other command's help mentions it.
        assert.equal(run.stdout.includes('--config'), usage.startsWith('Usage: stele append '), usage);
      }
      const append = usages.find(({ usage }) => usage.startsWith('Usage: stele append '))!.run.stdout.split('\n');
      const appendConfig = append.findIndex((line) => line.startsWith('  --config FILE'));
      assert.deepEqual(append.slice(appendConfig, appendConfig + 2), [
        '  --config FILE            writer settings as JSON: {"durability","retry","driftThresholdMs"}, as',
        '                           openLedger takes them. append is the only command that uses them.',
      ]);
    });
  });

  describe('stele verify on a tampered ledger', { concurrency: true }, () => {
    let dir: string;
    let intact: string;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'stele-cli-'));
      intact = join(dir, 'intact.db');
      await buildLedger(intact, 300);
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    test('an edited payload fails at its sequence with content_hash, exit 1', async () => {
      const tampered = join(dir, 'tampered.db');
      copyLedgerFile(intact, tampered);
      const stored = readRow(intact, 120).content_hash;
      tamper(tampered, (db) => db.prepare(`UPDATE events SET payload = '{"i":-1}' WHERE sequence = 120`).run());
      const recomputed = rowHash(readRow(tampered, 120));
      assert.deepEqual(await steleJson(1, 'verify', tampered), {
        ok: false,
        checked: 119,
        firstBad: { sequence: 120, reason: 'content_hash', expected: stored, actual: recomputed },
      });
      assert.deepEqual(await stele('verify', tampered), {
        code: 1,
        stdout: `FAILED at sequence 120: content_hash\n  expected: ${stored}\n  actual:   ${recomputed}\n  119 events verified before it\n`,
        stderr: '',
      });
    });

    test('a deleted row fails at its sequence with sequence_gap', async () => {
      const gap = join(dir, 'gap.db');
      copyLedgerFile(intact, gap);
      tamper(gap, (db) => db.prepare('DELETE FROM events WHERE sequence = 200').run());
      assert.deepEqual(await steleJson(1, 'verify', gap), {
        ok: false,
        checked: 199,
        firstBad: { sequence: 200, reason: 'sequence_gap', expected: 200, actual: 201 },
      });
    });
  });

  test('export of a few thousand events, in pages, round-trips every stored row', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'many.db');
    await buildLedger(path, 2_345, 4);
    const out = join(dir, 'many.jsonl');
    assert.deepEqual(await steleJson(0, 'export', path, '--out', out), { events: 2_345, from: 1, to: 2_345, out });
    assert.deepEqual(readdirSync(dir).filter((name) => name.includes('jsonl')), ['many.jsonl'], 'no temporary file is left behind');
    const events = jsonLines(readFileSync(out, 'utf8'));
    const rows = storedRows(path);
    assert.equal(events.length, 2_345);
    assert.deepEqual(events.map(rowOf), rows);
    for (const row of rows) assert.equal(rowHash(row), row.content_hash);

    const tail = await stele('export', path, '--from', '2341');
    assert.equal(tail.code, 0, tail.stderr);
    assert.deepEqual(jsonLines(tail.stdout).map(rowOf), rows.slice(2_340));
  });

  test('tail --follow prints events appended by another process until SIGTERM', async (t) => {
    const path = join(tempDir(t), 'live.db');
    // Through reopen: the temp directory's cleanup closes it before removing the directory (its
    // writer may still be writing the head sidecar file there).
    const ledger = await reopen(t, path);
    await ledger.appendBatch([{ type: 'before', payload: { n: 1 } }, { type: 'before', payload: { n: 2 } }]);

    // The compiled bin under plain node, as an operator runs it.
    const child = runChild(t, await bin(), ['tail', path, '-n', '1', '--follow', '--json'], { node: [], stderr: 'pipe' });
    const nextEvent = async (): Promise<EventJson> => (await child.next()) as EventJson;

    // Appending only after the first line is out: the tail has read its starting point by then.
    assert.deepEqual([(await nextEvent()).sequence], [2]);
    const appended = await ledger.appendBatch([{ type: 'live', payload: { n: 3 } }, { type: 'live', payload: { n: 4 } }]);
    const live = [await nextEvent(), await nextEvent()];
    assert.deepEqual(
      live.map(({ sequence, type, payload, contentHash }) => ({ sequence, type, payload, contentHash })),
      appended.map((r, i) => ({ sequence: r.sequence, type: 'live', payload: { n: 3 + i }, contentHash: r.contentHash })),
    );
    child.process.kill('SIGTERM');
    assert.deepEqual(await child.exited, { code: 0, signal: null });
    assert.equal(child.stderr(), '');
  });

  describe('stele append', { concurrency: true }, () => {
    /** A new ledger file in a temp directory, holding `events`, closed. */
    async function ledgerWith(t: TestContext, events: AppendInput[] = []): Promise<string> {
      const path = join(tempDir(t), 'ledger.db');
      const ledger = await openLedger(path);
      try {
        if (events.length > 0) await ledger.appendBatch(events);
      } finally {
        await ledger.close();
      }
      return path;
    }

    const iso = (ms: number) => new Date(ms).toISOString();

    /** A LedgerError as `--json` prints it on stderr. */
    const errorLine = (code: string, message: string, details: Record<string, unknown>) => `${JSON.stringify({ error: { code, message, details } })}\n`;

    /** A usage error as printed without --json. */
    const usage = (message: string) => `stele: USAGE: ${message}\nRun 'stele --help' for usage.\n`;

    test('append writes one event with the given fields; get returns it as stored', async (t) => {
      const path = await ledgerWith(t);
      const first = [
        ...['append', path, '--type', 'deposited', '--stream', 'acct-9', '--payload', '{"cents":250,"note":"rent"}'],
        ...['--metadata', '{"by":"cli"}', '--event-id', 'ev-cli-1', '--expected-version', 'no_stream'],
      ];
      const receipt = await steleJson(0, ...first);
      const row1 = readRow(path, 1);
      assert.equal(rowHash(row1), row1.content_hash);
      assert.deepEqual(receipt, {
        sequence: 1,
        eventId: 'ev-cli-1',
        streamId: 'acct-9',
        streamVersion: 0,
        contentHash: row1.content_hash,
        authorityTimestamp: iso(row1.authority_timestamp),
      });
      assert.deepEqual(await steleJson(0, 'get', path, '1'), {
        sequence: 1,
        eventId: 'ev-cli-1',
        streamId: 'acct-9',
        streamVersion: 0,
        type: 'deposited',
        payload: { cents: 250, note: 'rent' },
        metadata: { by: 'cli' },
        localTimestamp: iso(row1.local_timestamp),
        authorityTimestamp: iso(row1.authority_timestamp),
        prevHash: row1.prev_hash,
        contentHash: row1.content_hash,
      });

      // Without --json: one line. Without --event-id: a generated UUIDv7.
      const second = await stele('append', path, '--type', 'withdrawn', '--stream', 'acct-9', '--payload', '{"cents":100}', '--expected-version', '0');
      const row2 = readRow(path, 2);
      assert.match(row2.event_id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.deepEqual(second, {
        code: 0,
        stdout: `appended #2 acct-9@1 event ${row2.event_id} at ${iso(row2.authority_timestamp)}, content hash ${row2.content_hash}\n`,
        stderr: '',
      });
      assert.equal(row2.prev_hash, row1.content_hash);

      // No --stream, no payload: the default stream, and no payload key in get.
      const third = await steleJson(0, 'append', path, '--type', 'note');
      const row3 = readRow(path, 3);
      assert.deepEqual(third, {
        sequence: 3,
        eventId: row3.event_id,
        streamId: '$default',
        streamVersion: 0,
        contentHash: row3.content_hash,
        authorityTimestamp: iso(row3.authority_timestamp),
      });
      const got = (await steleJson(0, 'get', path, '3')) as EventJson;
      assert.deepEqual([got.type, 'payload' in got, 'metadata' in got], ['note', false, false]);

      // The same --event-id with the same content appends nothing and prints the first receipt.
      assert.deepEqual(await steleJson(0, ...first.slice(0, -2)), receipt);
      assert.equal(storedRows(path).length, 3);
      assert.deepEqual(await steleJson(0, 'verify', path), { ok: true, checked: 3 });
    });

    test('--config: valid writer settings are accepted; an invalid one exits 2 naming it, appending nothing', async (t) => {
      const path = await ledgerWith(t);
      const config = (name: string, value: unknown) => {
        const file = join(dirname(path), name);
        writeFileSync(file, JSON.stringify(value));
        return file;
      };
      const normal = config('normal.json', { durability: 'normal', retry: { attempts: 5, delayMs: 10 }, driftThresholdMs: 60_000 });
      const receipt = await steleJson(0, 'append', path, '--type', 'tick', '--config', normal);
      const row = readRow(path, 1);
      assert.deepEqual(receipt, {
        sequence: 1,
        eventId: row.event_id,
        streamId: '$default',
        streamVersion: 0,
        contentHash: row.content_hash,
        authorityTimestamp: iso(row.authority_timestamp),
      });

      const fast = config('fast.json', { durability: 'fast' });
      const drift = config('drift.json', { driftThresholdMs: 0 });
      const [text, json, zero] = await Promise.all([
        stele('append', path, '--type', 'tick', '--config', fast),
        stele('append', path, '--type', 'tick', '--config', fast, '--json'),
        stele('append', path, '--type', 'tick', '--config', drift),
      ]);
      const message = `--config ${fast}: durability must be one of 'full', 'normal', got 'fast'`;
      assert.deepEqual(text, { code: 2, stdout: '', stderr: usage(message) });
      assert.deepEqual(json, { code: 2, stdout: '', stderr: errorLine('USAGE', message, {}) });
      assert.deepEqual(zero, { code: 2, stdout: '', stderr: usage(`--config ${drift}: driftThresholdMs must be a positive integer, got 0`) });
      assert.equal(storedRows(path).length, 1);
    });

    test('invalid arguments exit 2 before the ledger is opened', async (t) => {
      const path = await ledgerWith(t);
      // The app holds the writer: a command that got as far as opening would exit 1 with WRITER_LOCK_HELD.
      const app = await openLedger(path);
      try {
        const parseError = (text: string) => {
          try {
            JSON.parse(text);
          } catch (error) {
            return (error as Error).message;
          }
          throw new Error(`${text} is valid JSON`);
        };
        const cases: [string[], string][] = [
          [['--type', 'tick', '--payload', '{"cents":'], '--payload is not valid JSON (Unexpected end of JSON input)'],
          [['--type', 'tick', '--payload', '{"cents":1}', '--metadata', 'by cli'], `--metadata is not valid JSON (${parseError('by cli')})`],
          [
            ['--type', 'tick', '--expected-version', 'latest'],
            "--expected-version must be any, no_stream, stream_exists or a stream version (an integer >= 0), got 'latest'",
          ],
          [
            ['--type', 'tick', '--expected-version', '1.5'],
            "--expected-version must be any, no_stream, stream_exists or a stream version (an integer >= 0), got '1.5'",
          ],
          [['--payload', '{}'], 'append needs --type T, the type of the event'],
          [['--type', 'tick', path], 'append takes <file>, got 2 arguments'],
        ];
        const runs = await Promise.all(cases.map(([args]) => stele('append', path, ...args)));
        runs.forEach((run, i) => assert.deepEqual(run, { code: 2, stdout: '', stderr: usage(cases[i]![1]) }, cases[i]![0].join(' ')));
        assert.deepEqual(await stele('append', path, '--type', 'tick', '--payload', '{"cents":', '--json'), {
          code: 2,
          stdout: '',
          stderr: errorLine('USAGE', '--payload is not valid JSON (Unexpected end of JSON input)', {}),
        });
        assert.deepEqual(storedRows(path), []);
      } finally {
        await app.close();
      }
    });

    test('while an app holds the writer, append exits 1 with WRITER_LOCK_HELD; once it closes, append works', async (t) => {
      const path = await ledgerWith(t);
      const app = await openLedger(path);
      let open = true;
      try {
        const message = 'another writer has this ledger open; close it, or open this one with readonly: true';
        assert.deepEqual(await stele('append', path, '--type', 'tick', '--json'), {
          code: 1,
          stdout: '',
          stderr: errorLine('WRITER_LOCK_HELD', message, { path, lockPath: `${path}-writer.lock` }),
        });
        assert.deepEqual(await stele('append', path, '--type', 'tick'), { code: 1, stdout: '', stderr: `stele: WRITER_LOCK_HELD: ${message}\n` });
        // The refused command left the app's writer alone.
        const fromApp = await app.append({ type: 'from-app' });
        assert.equal(fromApp.sequence, 1);
        await app.close();
        open = false;
        const receipt = (await steleJson(0, 'append', path, '--type', 'tick')) as { sequence: number; streamVersion: number };
        assert.deepEqual([receipt.sequence, receipt.streamVersion], [2, 1]);
      } finally {
        if (open) await app.close();
      }
    });

    test('an expected version the stream is not at exits 1 with WRONG_EXPECTED_VERSION and both versions', async (t) => {
      const path = await ledgerWith(t, [
        { type: 'opened', streamId: 'acct-1' },
        { type: 'deposited', streamId: 'acct-1' },
      ]);
      const message = 'the stream is not at the version the append expects; re-read the stream and decide again';
      const append = (...args: string[]) => stele('append', path, '--type', 'deposited', ...args);
      assert.deepEqual(await append('--stream', 'acct-1', '--expected-version', '0', '--json'), {
        code: 1,
        stdout: '',
        stderr: errorLine('WRONG_EXPECTED_VERSION', `${message} (stream 'acct-1': expected 0, but the stream is at version 1)`, { streamId: 'acct-1', expected: 0, actual: 1 }),
      });
      assert.deepEqual(await append('--stream', 'acct-1', '--expected-version', 'no_stream', '--json'), {
        code: 1,
        stdout: '',
        stderr: errorLine('WRONG_EXPECTED_VERSION', `${message} (stream 'acct-1': expected no_stream, but the stream is at version 1)`, {
          streamId: 'acct-1',
          expected: 'no_stream',
          actual: 1,
        }),
      });
      assert.deepEqual(await append('--stream', 'acct-2', '--expected-version', 'stream_exists'), {
        code: 1,
        stdout: '',
        stderr: `stele: WRONG_EXPECTED_VERSION: ${message} (stream 'acct-2': expected stream_exists, but the stream does not exist)\n`,
      });
      assert.equal(storedRows(path).length, 2);
      const receipt = (await steleJson(0, 'append', path, '--type', 'deposited', '--stream', 'acct-1', '--expected-version', '1')) as Record<string, unknown>;
      assert.deepEqual([receipt.sequence, receipt.streamId, receipt.streamVersion], [3, 'acct-1', 2]);
    });

    test('a halted ledger refuses: exit 1 with LEDGER_HALTED and the halt', async (t) => {
      const path = join(tempDir(t), 'halted.db');
      const halt = await buildHaltedLedger(path);
      assert.deepEqual(await stele('append', path, '--type', 'tick', '--json'), {
        code: 1,
        stdout: '',
        stderr: errorLine('LEDGER_HALTED', 'the ledger is halted and refuses appends until a witnessed clearHalt ceremony', {
          haltSequence: halt.sequence,
          reason: 'disk check',
        }),
      });
    });

    test('a missing file is not created: exit 1 with FILE_NOT_FOUND', async (t) => {
      const missing = join(tempDir(t), 'typo.db');
      assert.deepEqual(await stele('append', missing, '--type', 'tick'), { code: 1, stdout: '', stderr: `stele: FILE_NOT_FOUND: no ledger file at ${missing}\n` });
      assert.equal(statSync(missing, { throwIfNoEntry: false }), undefined);
    });
  });

  test('checkpoint --store keeps a signed checkpoint; verify --log-key pins its key; prove --bundle carries it; verify-proof checks it offline', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stele-cli-'));
    try {
      const path = join(dir, 'log.db');
      await buildLedger(path, 12);
      const origin = 'example.com/stele/cli';
      const log = generateKeyPair(origin, { seed: new Uint8Array(32).fill(5) });
      const other = generateKeyPair(origin, { seed: new Uint8Array(32).fill(6) });
      const keyFile = join(dir, 'log.skey');
      writeFileSync(keyFile, log.signerKey);
      const stored = (await steleJson(0, 'checkpoint', path, '--origin', origin, '--key', keyFile, '--store')) as { checkpoint: string; sequence: number; treeSize: number };
      assert.deepEqual([stored.sequence, stored.treeSize], [13, 12]);
      assert.equal(verifyCheckpoint(stored.checkpoint, log.verifierKey).checkpoint.size, 12);
      assert.deepEqual(await steleJson(0, 'verify', path, '--log-key', log.verifierKey), { ok: true, checked: 13 });
      const refused = (await steleJson(1, 'verify', path, '--log-key', other.verifierKey)) as { firstBad: { sequence: number; reason: string } };
      assert.deepEqual([refused.firstBad.sequence, refused.firstBad.reason], [13, 'checkpoint']);
      // No key needed for the bundle: the stored checkpoint covers the event.
      const bundle = join(dir, 'bundle.txt');
      await steleJson(0, 'prove', path, '5', '--bundle', bundle);
      assert.ok(readFileSync(bundle, 'utf8').endsWith(stored.checkpoint));
      const event = join(dir, 'event.json');
      writeFileSync(event, (await stele('get', path, '5', '--json')).stdout);
      assert.deepEqual(await steleJson(0, 'verify-proof', bundle, '--event', event, '--log-key', log.verifierKey), { ok: true, index: 4, treeSize: 12 });
      assert.equal((await stele('verify-proof', bundle, '--event', event, '--log-key', other.verifierKey)).code, 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('stele replicate and verify-replica', { concurrency: true }, () => {
    let dir: string;
    let primary: string;
    let head: { sequence: number; contentHash: string };
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'stele-cli-'));
      primary = join(dir, 'primary.db');
      await buildLedger(primary, 50);
      head = { sequence: 50, contentHash: readRow(primary, 50).content_hash };
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    test('replicate creates the copy and confirms it; verify-replica passes', async () => {
      const replica = join(dir, 'replica.db');
      const { at, ...receipt } = (await steleJson(0, 'replicate', primary, replica)) as Record<string, unknown>;
      assert.deepEqual(receipt, { replicaId: replica, sequence: 50, status: 'confirmed' });
      assert.equal(new Date(at as string).toISOString(), at);
      assert.deepEqual(storedRows(replica), storedRows(primary));
      assert.deepEqual(await steleJson(0, 'verify-replica', primary, replica), {
        replicaId: replica,
        ok: true,
        sequence: 50,
        lag: 0,
        headHashMatch: true,
        schemaVersionMatch: true,
        signatureValid: true,
        continuous: true,
        errors: [],
      });
      assert.deepEqual(await steleJson(0, 'head', replica), head);
    });

    test('verify-replica of an edited copy exits 1 and names the bad row', async () => {
      const replica = join(dir, 'edited.db');
      assert.equal((await stele('replicate', primary, replica)).code, 0);
      const stored = readRow(replica, 30).content_hash;
      tamper(replica, (db) => db.prepare(`UPDATE events SET type = 'forged' WHERE sequence = 30`).run());
      const result = (await steleJson(1, 'verify-replica', primary, replica)) as { ok: boolean; firstBad: unknown };
      assert.equal(result.ok, false);
      assert.deepEqual(result.firstBad, { sequence: 30, reason: 'content_hash', expected: stored, actual: rowHash(readRow(replica, 30)) });
    });
  });

  test('the compiled bin starts with a shebang and runs with plain node', async (t) => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    assert.deepEqual(manifest.bin, { stele: './dist/cli/stele.js' });
    const pkg = (await built).dir;
    const installed = join(pkg, manifest.bin.stele!);
    assert.equal(installed, await bin(), 'the other tests run the bin package.json names');
    assert.equal(readFileSync(installed, 'utf8').split('\n')[0], '#!/usr/bin/env node');
    const ledgerPath = join(tempDir(t), 'built.db');
    await buildLedger(ledgerPath, 20);
    // Run from inside the package folder, as an installed package's bin is.
    const run = await node([installed, 'verify', ledgerPath, '--json'], pkg);
    assert.deepEqual(run, { code: 0, stdout: '{"ok":true,"checked":20}\n', stderr: '' });
    // append starts the writer's worker thread, from the compiled files too.
    const append = await node([installed, 'append', ledgerPath, '--type', 'tick', '--event-id', 'ev-built', '--json'], pkg);
    const row = readRow(ledgerPath, 21);
    const receipt = {
      sequence: 21,
      eventId: 'ev-built',
      streamId: '$default',
      streamVersion: 0,
      contentHash: row.content_hash,
      authorityTimestamp: new Date(row.authority_timestamp).toISOString(),
    };
    assert.deepEqual(append, { code: 0, stdout: `${JSON.stringify(receipt)}\n`, stderr: '' });
  });

  test('the source entry runs through tsx: lib/cli/stele.ts --help prints exactly what the compiled bin prints', async () => {
    const [source, compiled] = await Promise.all([node(['--import', 'tsx', SOURCE_CLI, '--help']), stele('--help')]);
    assert.equal(source.code, 0, source.stderr);
    assert.equal(source.stderr, '');
    assert.equal(source.stdout.split('\n')[0], 'Usage: stele <command> <file> [options]');
    assert.deepEqual(source, compiled);
  });
});
