/**
 * `stele verify <file>`: the whole chain re-checked, with a progress bar on a terminal.
 * @internal
 */
import cliProgress from 'cli-progress';
import type { VerifyProgress, VerifyResult } from '../../index.ts';
import { ExitCode } from '../cli-error.ts';
import { defineCommand, integerArg, plural, print, withReadonlyLedger } from '../command.ts';

export const verifyCommand = defineCommand({
  name: 'verify',
  summary: 'Re-check every event: sequence continuity, hash links, stream versions, content hashes, signatures.',
  positionals: ['file'],
  options: {
    from: { type: 'string' },
    to: { type: 'string' },
    'trusted-witness': { type: 'string', multiple: true },
    'witness-quorum': { type: 'string' },
    'log-key': { type: 'string' },
  },
  usage: '[--from SEQ] [--to SEQ] [--trusted-witness KEY ...] [--witness-quorum N] [--log-key VKEY]',
  help: `
Options:
  --from SEQ   first sequence to check (default 1)
  --to SEQ     last sequence to check (default: the newest). A --to beyond the newest event is a
               claim that those events exist: a truncated ledger fails at the first missing one.
  --trusted-witness KEY
               a witness public key (base64) you trust; repeat for each. Only these keys count in
               the file's ceremonies (clear-halt, promotion), whatever witnesses it registered.
  --witness-quorum N
               the least signatures a ceremony needs, whatever the file's own quorum says.
  --log-key VKEY
               the log's verifier key as you hold it: every stored checkpoint must name it and
               carry its signature (a file rewritten with another key fails).
  --json       print the result as JSON: {"ok","checked","firstBad"?}

On a terminal a progress bar is drawn on stderr. Exits 0 when the chain is intact, 1 when it is
not, printing the first bad sequence and the reason (sequence_gap, prev_hash, stream_version,
content_hash, signature, ceremony, ... as FORMAT.md lists them).`,
  async run({ args, values, json }) {
    const from = values.from === undefined ? undefined : integerArg('--from', values.from);
    const to = values.to === undefined ? undefined : integerArg('--to', values.to);
    const trusted = values['trusted-witness'] as string[] | undefined;
    const quorum = values['witness-quorum'] === undefined ? undefined : integerArg('--witness-quorum', values['witness-quorum'] as string);
    const logKey = values['log-key'] as string | undefined;
    const witnesses = {
      ...(trusted ? { trustedWitnesses: trusted } : {}),
      ...(quorum !== undefined ? { witnessQuorum: quorum } : {}),
      ...(logKey !== undefined ? { trustedLogKey: logKey } : {}),
    };
    const result = await withReadonlyLedger(args.file, async (ledger) => {
      const bar = process.stderr.isTTY ? progressBar() : undefined;
      try {
        return await ledger.verify({ from, to, ...witnesses, onProgress: bar?.update });
      } finally {
        bar?.stop();
      }
      // A file whose schema differs opens so that verify can report it: the fault `schema`.
    }, { allowSchemaMismatch: true });
    print(json, result, describeResult);
    return result.ok ? ExitCode.ok : ExitCode.failed;
  },
});

/** A bar on stderr, started by the first progress report (an empty range reports none). */
function progressBar(): { update: (progress: VerifyProgress) => void; stop: () => void } {
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: 'verifying [{bar}] {percentage}% | {value}/{total} events | ETA {eta_formatted}',
      clearOnComplete: true,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update: ({ checked, total }) => {
      if (started) bar.update(checked);
      else bar.start(total, checked);
      started = true;
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

function describeResult({ ok, checked, firstBad }: VerifyResult): string {
  if (ok) return `OK: ${plural(checked, 'event')} verified, chain intact`;
  const bad = firstBad!;
  return [
    `FAILED at sequence ${bad.sequence}: ${bad.reason}`,
    ...(bad.expected === undefined ? [] : [`  expected: ${bad.expected}`]),
    ...(bad.actual === undefined ? [] : [`  actual:   ${bad.actual}`]),
    ...(bad.detail === undefined ? [] : [`  ${bad.detail}`]),
    `  ${plural(checked, 'event')} verified before it`,
  ].join('\n');
}
