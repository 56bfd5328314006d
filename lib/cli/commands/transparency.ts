/**
 * `stele checkpoint`, `stele prove` and `stele verify-proof`: the ledger as a transparency log
 * from the command line. The first two open the file read-only; the third needs no ledger at all.
 * @internal
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { eventLeaf, toBase64Proof, verifyProofBundle } from './transparency-text.ts';
import { CliError, ExitCode, UsageError } from '../cli-error.ts';
import { defineCommand, existingFile, integerArg, print } from '../command.ts';
import { openLedger } from '../../index.ts';

const KEY_OPTIONS = {
  origin: { type: 'string' },
  key: { type: 'string' },
} as const;

function logKeyOptions(values: { origin?: string; key?: string }) {
  if (values.origin === undefined || values.key === undefined) throw new UsageError('--origin ORIGIN and --key SKEY_FILE are needed to sign a checkpoint');
  return { origin: values.origin, secretKey: readFileSync(values.key, 'utf8').trim() };
}

async function withLog<T>(
  file: string,
  values: { origin?: string; key?: string },
  use: (ledger: Awaited<ReturnType<typeof openLedger>>) => T | Promise<T>,
  readonly = true,
): Promise<T> {
  const ledger = await openLedger(existingFile(file), { readonly, ...(values.key === undefined ? {} : { checkpoint: logKeyOptions(values) }) });
  try {
    return await use(ledger);
  } finally {
    await ledger.close();
  }
}

export const checkpointCommand = defineCommand({
  name: 'checkpoint',
  summary: 'Print the signed C2SP checkpoint of the ledger\'s Merkle tree at its current size; --store keeps it in the file.',
  positionals: ['file'],
  options: { ...KEY_OPTIONS, store: { type: 'boolean' } },
  usage: '--origin ORIGIN --key SKEY_FILE [--store]',
  help: `
Options:
  --origin ORIGIN   the log's origin, e.g. example.com/stele/orders
  --key FILE        a file holding the log's signed-note skey (PRIVATE+KEY+...)
  --store           append it to the ledger's stored checkpoints ($checkpoints); needs the writer,
                    so no other process may have the ledger open for writing
  --json            print {"checkpoint"}, with --store also "sequence" and "treeSize"`,
  async run({ args, values, json }) {
    logKeyOptions(values);
    const result = values.store
      ? await withLog(args.file, values, async (ledger) => {
          const { note, sequence, treeSize } = await ledger.storeCheckpoint();
          return { checkpoint: note, sequence, treeSize };
        }, false)
      : await withLog(args.file, values, (ledger) => ({ checkpoint: ledger.checkpoint() }));
    print(json, result, (v) => v.checkpoint.trimEnd());
    return ExitCode.ok;
  },
});

export const proveCommand = defineCommand({
  name: 'prove',
  summary: 'Print the inclusion proof of one event, or write its offline proof bundle (tlog-proof).',
  positionals: ['file', 'sequence'],
  options: { ...KEY_OPTIONS, bundle: { type: 'string' }, checkpoint: { type: 'string' }, 'tree-size': { type: 'string' } },
  usage: '[--tree-size N] [--bundle FILE (--checkpoint FILE | --origin ORIGIN --key SKEY_FILE)]',
  help: `
Options:
  --tree-size N       prove against the tree of N events (default: all)
  --bundle FILE       write a C2SP tlog-proof of the event to FILE
  --checkpoint FILE   the signed (cosigned) checkpoint the bundle carries (default: the smallest
                      stored checkpoint that covers the event, with its cosignatures)
  --origin, --key     or, when none is stored, sign a new checkpoint with the log's key
  --json              print {"sequence","treeSize","contentHash","proof":[base64...],"bundle"?}`,
  async run({ args, values, json }) {
    const sequence = integerArg('sequence', args.sequence);
    const treeSize = values['tree-size'] === undefined ? undefined : integerArg('--tree-size', values['tree-size']);
    const result = await withLog(args.file, values, (ledger) => {
      const event = ledger.get(sequence);
      if (!event) throw new CliError('NOT_FOUND', `no event #${sequence}`);
      const size = treeSize ?? ledger.maxSequence();
      const proof = toBase64Proof(ledger.inclusionProof(sequence, size));
      let bundle: string | undefined;
      if (values.bundle !== undefined) {
        const checkpoint = values.checkpoint === undefined ? undefined : readFileSync(values.checkpoint, 'utf8');
        const stored = ledger.storedCheckpoints().some((c) => c.treeSize >= sequence);
        if (checkpoint === undefined && values.key === undefined && !stored) {
          throw new UsageError('--bundle needs --checkpoint FILE or --origin and --key: no stored checkpoint covers this event');
        }
        bundle = ledger.proofBundle(sequence, checkpoint === undefined ? {} : { checkpoint });
        writeFileSync(values.bundle, bundle);
      }
      return { sequence, treeSize: size, contentHash: event.contentHash, proof, ...(bundle === undefined ? {} : { bundle: values.bundle }) };
    });
    print(json, result, (r) => [`#${r.sequence} in the tree of ${r.treeSize} (content hash ${r.contentHash})`, ...r.proof, ...(r.bundle ? [`bundle written to ${r.bundle}`] : [])].join('\n'));
    return ExitCode.ok;
  },
});

export const verifyProofCommand = defineCommand({
  name: 'verify-proof',
  summary: 'Check a proof bundle offline against an event, the log\'s key and witness keys.',
  positionals: ['bundle'],
  options: {
    event: { type: 'string' },
    'content-hash': { type: 'string' },
    'log-key': { type: 'string' },
    witness: { type: 'string', multiple: true },
    quorum: { type: 'string' },
  },
  usage: '(--event FILE | --content-hash HEX) --log-key VKEY [--witness VKEY ...] [--quorum K]',
  help: `
Options:
  --event FILE         the event as "stele get --json" prints it (its contentHash is the leaf)
  --content-hash HEX   or the event's content hash itself
  --log-key VKEY       the log's verifier key (name+id+base64)
  --witness VKEY       a trusted witness's cosignature key; repeat for each
  --quorum K           witnesses that must have cosigned (default: all given)
  --json               print {"ok","index"?,"treeSize"?,"code"?,"message"?}

Exit code 1 when the bundle does not prove the event.`,
  async run({ args, values, json }) {
    const logKey = values['log-key'];
    if (logKey === undefined) throw new UsageError('--log-key VKEY is needed');
    const contentHash = values['content-hash'] ?? (values.event === undefined ? undefined : (JSON.parse(readFileSync(values.event, 'utf8')) as { contentHash?: string }).contentHash);
    if (typeof contentHash !== 'string') throw new UsageError('--event FILE or --content-hash HEX is needed');
    const witnessKeys = values.witness ?? [];
    const quorum = values.quorum === undefined ? witnessKeys.length : integerArg('--quorum', values.quorum, 0);
    const verdict = verifyProofBundle(readFileSync(args.bundle, 'utf8'), { leaf: eventLeaf(contentHash), logKey, witnessKeys, quorum });
    const out = verdict.ok ? { ok: true, index: verdict.index, treeSize: verdict.checkpoint.size } : { ok: false, code: verdict.code, message: verdict.message };
    print(json, out, (o) => (o.ok ? `ok: event #${(o.index ?? 0) + 1} is in the tree of ${o.treeSize}` : `NOT PROVEN: ${o.code}: ${o.message}`));
    return verdict.ok ? ExitCode.ok : ExitCode.failed;
  },
});
