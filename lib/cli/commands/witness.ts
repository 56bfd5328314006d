/**
 * `stele witness serve` and `stele witness keygen`: run a C2SP tlog-witness that cosigns the
 * checkpoints of the logs it is given, and make its key. Neither opens a ledger.
 * @internal
 */
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { serveWitness, type WitnessedLog } from '../../index.ts';
import { generateKeyPair, parseVerifierKey, SIGNATURE_TYPE_COSIGNATURE_V1 } from '../../proofs/index.ts';
import { CliError, ExitCode, UsageError } from '../cli-error.ts';
import { COMMON_OPTIONS, defineCommand, print, type Command } from '../command.ts';

const serveCommand = defineCommand({
  name: 'witness serve',
  summary: 'Run a C2SP tlog-witness on HTTP: cosign the logs\' checkpoints that extend what it cosigned.',
  positionals: [],
  options: {
    state: { type: 'string' },
    'key-file': { type: 'string' },
    name: { type: 'string' },
    log: { type: 'string', multiple: true },
    listen: { type: 'string' },
  },
  usage: '--state FILE --key-file FILE --log [ORIGIN=]VKEY ... --listen HOST:PORT [--name NAME]',
  help: `
Options:
  --state FILE      the witness's SQLite state file (created when missing): per log, the size and
                    root it last cosigned. Keep it and back it up: a witness that loses it can be
                    made to cosign a forked log, and should get a new key
  --key-file FILE   a file holding the witness's cosignature/v1 skey (stele witness keygen)
  --name NAME       the witness's key name, checked against the skey's
  --log VKEY        a log to witness: its Ed25519 vkey, whose name is the checkpoint origin; or
                    ORIGIN=VKEY when the origin differs. Repeat for each log
  --listen H:P      the address to listen on, e.g. 127.0.0.1:7380 (port 0: a free one)
  --json            print {"url","name","verifierKey","logs"} when listening, then one line per
                    answer {"status","origin","size"}

Serves POST /add-checkpoint until SIGINT or SIGTERM, then exits 0.`,
  async run({ values, json }) {
    const state = required(values.state, '--state FILE');
    const keyFile = required(values['key-file'], '--key-file FILE');
    const { host, port } = listenAddress(required(values.listen, '--listen HOST:PORT'));
    const logs = (values.log ?? []).map(logArg);
    if (logs.length === 0) throw new UsageError('--log VKEY is needed, once per log to witness');
    const witness = await serveWitness({
      state,
      secretKey: readKey(keyFile),
      ...(values.name === undefined ? {} : { name: values.name }),
      logs,
      host,
      port,
      onAnswer: ({ status, origin, size }) => print(json, { status, origin, size }, (a) => `${a.status} ${a.origin ?? '-'} ${a.size ?? '-'}`),
    }).catch((error: unknown) => {
      // A key of the wrong type, a name that differs from the skey's, a state path that is not a state file.
      throw error instanceof TypeError ? new UsageError(error.message) : error;
    });
    const origins = [...new Set(logs.map((l) => l.origin))];
    print(json, { url: witness.url, name: witness.name, verifierKey: witness.verifierKey, logs: origins }, (w) =>
      [`witness ${w.name} listening on ${w.url}`, `verifier key: ${w.verifierKey}`, `logs: ${w.logs.join(', ')}`].join('\n'),
    );
    await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
    await witness.close();
    return ExitCode.ok;
  },
});

const keygenCommand = defineCommand({
  name: 'witness keygen',
  summary: 'Make a witness key: write its cosignature/v1 skey to a new file, print its vkey.',
  positionals: [],
  options: { name: { type: 'string' }, 'key-file': { type: 'string' } },
  usage: '--name NAME --key-file FILE',
  help: `
Options:
  --name NAME       the witness's key name, e.g. witness.example.com/w1
  --key-file FILE   where to write the skey (a new file, readable by its owner only)
  --json            print {"name","verifierKey","keyFile"}

Give the vkey to the logs' operators and to whoever verifies their proofs.`,
  async run({ values, json }) {
    const name = required(values.name, '--name NAME');
    const keyFile = required(values['key-file'], '--key-file FILE');
    let pair: { signerKey: string; verifierKey: string };
    try {
      pair = generateKeyPair(name, { type: SIGNATURE_TYPE_COSIGNATURE_V1 });
    } catch (error) {
      throw new UsageError(`--name: ${(error as Error).message}`);
    }
    try {
      writeFileSync(keyFile, `${pair.signerKey}\n`, { flag: 'wx', mode: 0o600 });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new CliError('FILE_EXISTS', `${keyFile} exists; a key file is never overwritten`);
      throw error;
    }
    print(json, { name, verifierKey: pair.verifierKey, keyFile }, (k) => `${k.verifierKey}\n(skey written to ${k.keyFile})`);
    return ExitCode.ok;
  },
});

const SUBCOMMANDS: ReadonlyMap<string, Command> = new Map([serveCommand, keygenCommand].map((c) => [c.name.slice('witness '.length), c]));

/** `stele witness <serve|keygen> ...`: dispatches to the subcommand, which parses its own options. */
export const witnessCommand: Command = {
  name: 'witness',
  summary: 'Run a C2SP tlog-witness for logs\' checkpoints (serve), or make its key (keygen).',
  help: `Usage: stele witness <serve|keygen> [options]

${[...SUBCOMMANDS.values()].map((c) => `  ${c.name.padEnd(16)}${c.summary}`).join('\n')}

Run 'stele witness <serve|keygen> --help' for their options.
`,
  options: { ...serveCommand.options, ...keygenCommand.options },
  async invoke(argv) {
    const { values, tokens } = parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...this.options }, allowPositionals: true, strict: false, tokens: true });
    const sub = tokens.find((token) => token.kind === 'positional');
    if (!sub) {
      if (values.help !== true) throw new UsageError('witness takes a subcommand: serve or keygen');
      process.stdout.write(this.help);
      return ExitCode.ok;
    }
    const command = SUBCOMMANDS.get(sub.value);
    if (!command) throw new UsageError(`unknown witness subcommand '${sub.value}'; subcommands: ${[...SUBCOMMANDS.keys()].join(', ')}`);
    return command.invoke(argv.toSpliced(sub.index, 1));
  },
};

function required(value: string | undefined, what: string): string {
  if (value === undefined) throw new UsageError(`${what} is needed`);
  return value;
}

/** `ORIGIN=VKEY`, or a bare VKEY whose key name is the origin (a vkey's '=' can only come after its '+'). */
function logArg(text: string): WitnessedLog {
  const eq = text.indexOf('=');
  const split = eq > 0 && !text.slice(0, eq).includes('+');
  const verifierKey = split ? text.slice(eq + 1) : text;
  try {
    return { origin: split ? text.slice(0, eq) : parseVerifierKey(verifierKey).name, verifierKey };
  } catch (error) {
    throw new UsageError(`--log ${text}: ${(error as Error).message}`);
  }
}

/** `HOST:PORT`, `[IPv6]:PORT`. */
function listenAddress(text: string): { host: string; port: number } {
  const colon = text.lastIndexOf(':');
  const port = Number(text.slice(colon + 1));
  const host = text.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  if (colon <= 0 || !/^\d+$/.test(text.slice(colon + 1)) || port > 65535 || host.length === 0) {
    throw new UsageError(`--listen must be HOST:PORT, e.g. 127.0.0.1:7380, got '${text}'`);
  }
  return { host, port };
}

function readKey(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (error) {
    throw new CliError('FILE_NOT_FOUND', `cannot read the key file ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
}
