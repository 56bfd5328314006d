/**
 * `stele append <file> --type T ...`: appends one event, the only command that writes to a ledger
 * (and so the only one that uses the `--config` writer settings).
 * @internal
 */
import type { AppendInput, ExpectedVersion } from '../../index.ts';
import { ExitCode, UsageError } from '../cli-error.ts';
import { defineCommand, print, withWritableLedger } from '../command.ts';

/** What `stele append --json` prints: the ledger's receipt for the event. */
export interface AppendJson {
  sequence: number;
  eventId: string;
  streamId: string;
  streamVersion: number;
  contentHash: string;
  /** When the ledger committed the event (ISO 8601, the database's clock). */
  authorityTimestamp: string;
}

export const appendCommand = defineCommand({
  name: 'append',
  summary: 'Append one event (the only command that writes to <file>, and the only one that uses --config).',
  positionals: ['file'],
  options: {
    type: { type: 'string' },
    stream: { type: 'string' },
    payload: { type: 'string' },
    metadata: { type: 'string' },
    'event-id': { type: 'string' },
    'expected-version': { type: 'string' },
  },
  usage: '--type T [--stream S] [--payload JSON] [--metadata JSON] [--event-id ID] [--expected-version V] [--config FILE]',
  help: `
Options:
  --type T                 what happened, e.g. order_placed (required)
  --stream S               the stream to append to (default: the shared $default stream)
  --payload JSON           the payload, as JSON (default: none)
  --metadata JSON          the metadata, as JSON (default: none)
  --event-id ID            idempotency key: appending an id again with the same content appends
                           nothing and prints the first receipt; with other content it fails with
                           DUPLICATE_EVENT_ID (default: a generated UUIDv7)
  --expected-version V     any (default), no_stream, stream_exists, or the stream's current version
                           (an integer >= 0, the first event of a stream being version 0); a
                           mismatch fails with WRONG_EXPECTED_VERSION
  --config FILE            writer settings as JSON: {"durability","retry","driftThresholdMs"}, as
                           openLedger takes them. append is the only command that uses them.
  --json                   print {"sequence","eventId","streamId","streamVersion","contentHash",
                           "authorityTimestamp"}

The file must be an existing ledger. append opens it for writing and takes the writer lock, so it
fails at once with WRITER_LOCK_HELD while an app has the ledger open for writing, and with
LEDGER_HALTED when the ledger is halted. A refused append exits 1 with the error's code.`,
  async run({ args, values, json, config }) {
    if (values.type === undefined) throw new UsageError('append needs --type T, the type of the event');
    const input: AppendInput = {
      type: values.type,
      ...(values.stream !== undefined && { streamId: values.stream }),
      ...(values.payload !== undefined && { payload: jsonArg('--payload', values.payload) }),
      ...(values.metadata !== undefined && { metadata: jsonArg('--metadata', values.metadata) }),
      ...(values['event-id'] !== undefined && { eventId: values['event-id'] }),
      ...(values['expected-version'] !== undefined && { expectedVersion: expectedVersionArg(values['expected-version']) }),
    };
    await withWritableLedger(args.file, config, async (ledger) => {
      const result = await ledger.append(input);
      // Printed before closing: the event is committed whatever close() does next.
      const receipt: AppendJson = {
        sequence: result.sequence,
        eventId: result.eventId,
        streamId: result.streamId,
        streamVersion: result.streamVersion,
        contentHash: result.contentHash,
        authorityTimestamp: result.authorityTimestamp.toISOString(),
      };
      print(json, receipt, describeReceipt);
    });
    return ExitCode.ok;
  },
});

/** An option's value parsed as JSON, or a usage error naming the option. */
function jsonArg(name: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${name} is not valid JSON (${(error as Error).message})`);
  }
}

function expectedVersionArg(text: string): ExpectedVersion {
  if (text === 'any' || text === 'no_stream' || text === 'stream_exists') return text;
  const version = Number(text);
  if (/^\d+$/.test(text) && Number.isSafeInteger(version)) return version;
  throw new UsageError(`--expected-version must be any, no_stream, stream_exists or a stream version (an integer >= 0), got '${text}'`);
}

/** `appended #5 acct-1@2 event ev-5 at 2026-01-02T03:04:05.678Z, content hash 9f86…`. */
function describeReceipt(r: AppendJson): string {
  return `appended #${r.sequence} ${r.streamId}@${r.streamVersion} event ${r.eventId} at ${r.authorityTimestamp}, content hash ${r.contentHash}`;
}
