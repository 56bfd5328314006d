/**
 * The commands that print events: `head`, `get`, `tail` (with `--follow`) and `export`.
 * @internal
 */
import { realpathSync, statSync, type Stats } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Ledger, LedgerEvent } from '../../index.ts';
import { CliError, ExitCode, UsageError } from '../cli-error.ts';
import { defineCommand, integerArg, plural, print, withReadonlyLedger, writeOut } from '../command.ts';
import { eventJson, type EventJson } from '../event-json.ts';

/** Events read per query by `export`: bounds memory whatever the ledger's size. */
const PAGE_SIZE = 1_000;

export const headCommand = defineCommand({
  name: 'head',
  summary: "Print the newest event's sequence and content hash.",
  positionals: ['file'],
  options: {},
  help: `
Options:
  --json   print {"sequence","contentHash"}, or null for an empty ledger

Keep the head somewhere the ledger's host cannot write: it is the anchor that "verify --to" and
openLedger's expectedHead check a file against.`,
  async run({ args, json }) {
    const head = await withReadonlyLedger(args.file, (ledger) => ledger.head() ?? null);
    print(json, head, (h) => (h ? `#${h.sequence} ${h.contentHash}` : 'empty ledger'));
    return ExitCode.ok;
  },
});

export const getCommand = defineCommand({
  name: 'get',
  summary: 'Print the event at one sequence.',
  positionals: ['file', 'seq'],
  options: {},
  help: `
Options:
  --json   print the event on one line (otherwise indented)

The event is printed as stored: payload and metadata as JSON, with superjson's type annotations in
payloadMeta/metadataMeta when they hold a Date, BigInt, Map, Set or undefined. Exits 1 when there
is no event at that sequence.`,
  async run({ args, json }) {
    const sequence = integerArg('seq', args.seq);
    const event = await withReadonlyLedger(args.file, (ledger) => {
      const found = ledger.get(sequence);
      if (!found) throw new CliError('EVENT_NOT_FOUND', `no event at sequence ${sequence} (the newest is #${ledger.maxSequence()})`);
      return eventJson(found);
    });
    print(json, event, (e) => JSON.stringify(e, null, 2));
    return ExitCode.ok;
  },
});

export const tailCommand = defineCommand({
  name: 'tail',
  summary: 'Print the newest events; with --follow, keep printing new ones as they are appended.',
  positionals: ['file'],
  options: { lines: { type: 'string', short: 'n', default: '10' }, follow: { type: 'boolean', short: 'f', default: false } },
  usage: '[-n N] [--follow]',
  help: `
Options:
  -n, --lines N   how many of the newest events to print (default 10; 0 with --follow: only new ones)
  -f, --follow    then wait for new events and print them, until interrupted (SIGINT, SIGTERM)
  --json          one event per line as JSON (the form of "get --json")

Works while another process appends: it reads without taking the writer lock.`,
  async run({ args, values, json }) {
    const lines = integerArg('--lines', values.lines, 0);
    const render = (event: LedgerEvent): string => (json ? JSON.stringify(eventJson(event)) : eventLine(eventJson(event)));
    await withReadonlyLedger(args.file, async (ledger) => {
      const head = ledger.maxSequence();
      // The newest N, read newest first (a seek from the head), printed oldest first.
      const newest = [...ledger.events({ to: head, reverse: true, limit: lines })].reverse();
      await writeOut(newest.map((event) => `${render(event)}\n`).join(''));
      if (values.follow) await follow(ledger, head, render);
    });
    return ExitCode.ok;
  },
});

/**
 * Prints each event appended after `after`, as it is committed (by whichever process writes),
 * until SIGINT or SIGTERM. The subscription delivers in sequence order without gaps and pulls:
 * it reads the next page only once this loop has written the last one.
 */
async function follow(ledger: Ledger, after: number, render: (event: LedgerEvent) => string): Promise<void> {
  const subscription = ledger.subscribe({ from: after + 1 });
  const stop = (): void => subscription.close();
  process.once('SIGINT', stop).once('SIGTERM', stop);
  try {
    for await (const item of subscription) if (item.kind === 'event') await writeOut(`${render(item.event)}\n`);
  } finally {
    process.off('SIGINT', stop).off('SIGTERM', stop);
  }
}

/** One line of text per event: sequence, authority time, stream@version, type, the payload cut short. */
function eventLine(event: EventJson): string {
  const payload = event.payload === undefined ? '' : ` ${JSON.stringify(event.payload)}`;
  const line = `#${event.sequence} ${event.authorityTimestamp} ${event.streamId}@${event.streamVersion} ${event.type}${payload}`;
  return line.length > 160 ? `${line.slice(0, 159)}…` : line;
}

export const exportCommand = defineCommand({
  name: 'export',
  summary: 'Write every event as JSON lines, to stdout or a file.',
  positionals: ['file'],
  options: { format: { type: 'string', default: 'jsonl' }, out: { type: 'string' }, from: { type: 'string' }, force: { type: 'boolean', default: false } },
  usage: '[--format jsonl] [--out FILE] [--force] [--from SEQ]',
  help: `
Options:
  --format jsonl   one event per line, in the form of "get --json" (the only format, the default)
  --out FILE       write to FILE (complete or not at all: written beside it, then renamed)
                   instead of stdout, and print a summary. FILE must not exist yet, and is
                   never the ledger or one of its files (-wal, -shm, -head.json, -writer.lock)
  --force          replace FILE if it exists (still never the ledger or one of its files)
  --from SEQ       first sequence to export (default 1)
  --json           print the summary of --out as JSON: {"events","from","to","out"}

Exports the events up to the newest at the start, reading ${PAGE_SIZE} at a time: memory stays
constant whatever the size of the ledger, and appends made meanwhile are left for the next export.`,
  async run({ args, values, json }) {
    if (values.format !== 'jsonl') throw new UsageError(`--format must be jsonl, got '${values.format}'`);
    const from = values.from === undefined ? 1 : integerArg('--from', values.from);
    const out = values.out === undefined ? undefined : resolve(values.out);
    if (out !== undefined) checkExportTarget(resolve(args.file), out, values.force === true);
    const summary = await withReadonlyLedger(args.file, async (ledger) => {
      const to = ledger.maxSequence();
      const sink = out === undefined ? stdoutSink() : await fileSink(out);
      let events = 0;
      try {
        let lines: string[] = [];
        for (const event of ledger.events({ from, to, pageSize: PAGE_SIZE })) {
          lines.push(`${JSON.stringify(eventJson(event))}\n`);
          if (lines.length < PAGE_SIZE) continue;
          await sink.write(lines.join(''));
          events += lines.length;
          lines = [];
        }
        if (lines.length > 0) await sink.write(lines.join(''));
        events += lines.length;
        await sink.finish();
      } catch (error) {
        await sink.abort();
        throw error;
      }
      return { events, from, to, out };
    });
    if (out !== undefined) print(json, summary, (s) => `exported ${plural(s.events, 'event')} (#${s.from}..#${s.to}) to ${s.out}`);
    return ExitCode.ok;
  },
});

/** The files of a ledger besides itself: replacing one of them loses or corrupts the ledger. */
const LEDGER_FILE_SUFFIXES = ['', '-wal', '-shm', '-journal', '-head.json', '-writer.lock'];

/**
 * Refuses an `--out` that would replace the ledger or one of its files (compared by device and
 * inode, so a symlink, a hard link or another spelling of the path is caught too, and by real
 * path for the files that do not exist yet), or any existing file without `--force`.
 */
function checkExportTarget(ledger: string, out: string, force: boolean): void {
  const outStat = statOrUndefined(out);
  const realLedger = realpathOrSelf(ledger);
  const realOut = outStat ? realpathOrSelf(out) : join(realpathOrSelf(dirname(out)), basename(out));
  // Both spellings: the sidecars of a ledger opened through a symlink may sit beside either.
  for (const [base, suffix] of [ledger, realLedger].flatMap((base) => LEDGER_FILE_SUFFIXES.map((suffix) => [base, suffix] as const))) {
    const file = base + suffix;
    const fileStat = statOrUndefined(file);
    const same = realOut === file || (outStat !== undefined && fileStat !== undefined && outStat.dev === fileStat.dev && outStat.ino === fileStat.ino);
    if (same) {
      throw new CliError('OUT_IS_LEDGER', `--out ${out} is ${suffix === '' ? 'the ledger itself' : `the ledger's ${suffix.slice(1)} file`}; export to another file`);
    }
  }
  if (outStat && !force) throw new CliError('OUT_EXISTS', `--out ${out} already exists; choose a new file, or pass --force to replace it`);
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function realpathOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** Where `export` writes: each write resolves once the writer can take more (backpressure). */
interface Sink {
  write(text: string): Promise<void>;
  finish(): Promise<void>;
  abort(): Promise<void>;
}

function stdoutSink(): Sink {
  return {
    write: writeOut,
    async finish() {},
    async abort() {},
  };
}

/**
 * A file written under a temporary name beside `path`, fsynced, then renamed over it: a reader of
 * `path` sees a complete export or none, never one cut short (JSON lines carry no end marker).
 */
async function fileSink(path: string): Promise<Sink> {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const handle = await open(temporary, 'wx');
  return {
    async write(text) {
      await handle.write(text);
    },
    async finish() {
      await handle.sync();
      await handle.close();
      await rename(temporary, path);
    },
    async abort() {
      await handle.close().catch(() => {});
      await rm(temporary, { force: true });
    },
  };
}
