#!/usr/bin/env node
/**
 * `stele`, the command-line tool: verify, inspect, export and replicate ledger files, append
 * an event, and run a witness for ledgers' checkpoints. Every command but `append` opens ledgers read-only (replicate writes only its copy),
 * so none of them needs the writer lock and each runs beside the app that writes. `append` takes
 * the writer lock, and is the only command that uses the `--config` writer settings.
 * Run `stele --help`, or `stele <command> --help`.
 *
 * Exit codes: 0 ok, 1 verification failed / not found / any other failure, 2 usage error.
 * @internal
 */
import { parseArgs } from 'node:util';
import { CliError, describeError, ExitCode, UsageError } from './cli-error.ts';
import { COMMON_OPTIONS, type Command } from './command.ts';
import { appendCommand } from './commands/append.ts';
import { exportCommand, getCommand, headCommand, tailCommand } from './commands/events.ts';
import { replicateCommand, verifyReplicaCommand } from './commands/replication.ts';
import { restoreCommand } from './commands/restore.ts';
import { statsCommand } from './commands/stats.ts';
import { checkpointCommand, proveCommand, verifyProofCommand } from './commands/transparency.ts';
import { verifyCommand } from './commands/verify.ts';
import { witnessCommand } from './commands/witness.ts';

const COMMANDS: ReadonlyMap<string, Command> = new Map(
  [verifyCommand, headCommand, getCommand, tailCommand, exportCommand, statsCommand, appendCommand, replicateCommand, verifyReplicaCommand, restoreCommand, checkpointCommand, proveCommand, verifyProofCommand, witnessCommand].map(
    (command) => [command.name, command],
  ),
);

const HELP = `Usage: stele <command> <file> [options]

Inspect, check and append to Stele ledger files: tamper-evident, append-only event ledgers on one
SQLite file. Every command but append opens ledgers read-only, so it runs beside the app that writes.

Commands:
${[...COMMANDS.values()].map((c) => `  ${c.name.padEnd(16)}${c.summary}`).join('\n')}

Options of every command:
  --json          output for scripts: one JSON document (JSON lines for tail and export);
                  errors as {"error":{"code","message","details"}} on stderr
  --config FILE   writer settings as JSON: {"durability","retry","driftThresholdMs"}. Only append
                  uses them; the other commands check the file and ignore it
  -h, --help      this help, or a command's

Exit codes: 0 ok, 1 verification failed, not found, append refused or another failure,
2 usage error.
Run 'stele <command> --help' for a command's arguments and options.
`;

/** Runs one command line; resolves with the exit code. */
async function main(argv: string[]): Promise<ExitCode> {
  // Find the command among the options of all commands, so that it may come after an option
  // that takes a value (`stele --config c.json replicate ...`); the command parses strictly.
  const allOptions = Object.assign({}, COMMON_OPTIONS, ...[...COMMANDS.values()].map((c) => c.options));
  const { values, tokens } = parseArgs({ args: argv, options: allOptions, allowPositionals: true, strict: false, tokens: true });
  const json = values.json === true;
  try {
    const name = tokens.find((token) => token.kind === 'positional');
    if (!name) {
      if (values.help !== true) throw new UsageError('no command given');
      process.stdout.write(HELP);
      return ExitCode.ok;
    }
    const command = COMMANDS.get(name.value);
    if (!command) throw new UsageError(`unknown command '${name.value}'; commands: ${[...COMMANDS.keys()].join(', ')}`);
    return await command.invoke(argv.toSpliced(name.index, 1));
  } catch (error) {
    // The library throws RangeError for an argument out of range (e.g. verify --to before --from).
    return report(error instanceof RangeError ? new UsageError(error.message) : error, json);
  }
}

/** Prints a failure to stderr, with its code first, and returns the exit code it deserves. */
function report(error: unknown, json: boolean): ExitCode {
  const { code, message, details } = describeError(error);
  const exitCode = error instanceof CliError ? error.exitCode : ExitCode.failed;
  if (json) {
    process.stderr.write(`${JSON.stringify({ error: { code, message, details } })}\n`);
  } else {
    const hint = exitCode === ExitCode.usage ? "\nRun 'stele --help' for usage." : '';
    process.stderr.write(`stele: ${code}: ${message}${hint}\n`);
  }
  return exitCode;
}

// `stele export | head` closes stdout early: that is the reader's choice, not a failure.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(ExitCode.ok);
});

process.exitCode = await main(process.argv.slice(2));
