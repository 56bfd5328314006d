/**
 * What every `stele` command shares: its declaration (options, positionals, help), argument
 * parsing with node:util `parseArgs`, opening the ledger, and output.
 * @internal
 */
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { nearestName } from '../arguments.ts';
import { openLedger, type Ledger, type LedgerOptions } from '../index.ts';
import { CliError, ExitCode, UsageError } from './cli-error.ts';
import { loadWriterConfig, type WriterConfig } from './config.ts';

/** Options every command takes. */
export const COMMON_OPTIONS = {
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  config: { type: 'string' },
} as const satisfies OptionsConfig;

/** The options of a command, as node:util `parseArgs` takes them. */
export type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** What a command's `run` receives: its parsed options and positionals, by name. */
export interface CommandInput<O extends OptionsConfig, P extends string> {
  values: ParsedValues<O>;
  args: Record<P, string>;
  json: boolean;
  /**
   * Writer settings from `--config`, validated; empty without it. Only commands that open a writer
   * (`append`, through {@link withWritableLedger}) use them; the read-only ones ignore them.
   */
  config: WriterConfig;
}

type ParsedValues<O extends OptionsConfig> = ReturnType<
  typeof parseArgs<{ options: O & typeof COMMON_OPTIONS; allowPositionals: true; strict: true }>
>['values'];

/** A command as `lib/cli/stele.ts` sees it: parsing and typing stay inside {@link defineCommand}. */
export interface Command {
  name: string;
  summary: string;
  help: string;
  /** Its options beside {@link COMMON_OPTIONS}, so that the command name can be found among them. */
  options: OptionsConfig;
  invoke(argv: string[]): Promise<ExitCode>;
}

/**
 * Declares a command. `positionals` names its required arguments in order; `help` is the text after
 * the usage line. Every command also takes {@link COMMON_OPTIONS}.
 */
export function defineCommand<const O extends OptionsConfig, const P extends string>(spec: {
  name: string;
  summary: string;
  positionals: readonly P[];
  options: O;
  /** Usage of the options, e.g. `[-n N] [--follow]`. */
  usage?: string;
  help: string;
  run(input: CommandInput<O, P>): Promise<ExitCode>;
}): Command {
  const usage = ['stele', spec.name, ...spec.positionals.map((p) => `<${p}>`), spec.usage, '[--json]'].filter(Boolean).join(' ');
  const help = `Usage: ${usage}\n\n${spec.summary}\n\n${spec.help.trim()}\n`;
  return {
    name: spec.name,
    summary: spec.summary,
    help,
    options: spec.options,
    async invoke(argv) {
      const { values, positionals } = parseCommandLine(argv, { ...COMMON_OPTIONS, ...spec.options });
      const common = values as ParsedValues<{}>;
      if (common.help) {
        process.stdout.write(help);
        return ExitCode.ok;
      }
      if (positionals.length !== spec.positionals.length) {
        const expected = spec.positionals.map((p) => `<${p}>`).join(' ');
        throw new UsageError(`${spec.name} takes ${expected}, got ${plural(positionals.length, 'argument')}`);
      }
      const args = Object.fromEntries(spec.positionals.map((name, i) => [name, positionals[i]!])) as Record<P, string>;
      const config = common.config === undefined ? {} : loadWriterConfig(common.config);
      return spec.run({ values: values as ParsedValues<O>, args, json: common.json, config });
    },
  };
}

/** parseArgs in strict mode, its errors (unknown option, missing value) turned into usage errors. */
function parseCommandLine(argv: string[], options: OptionsConfig): { values: Record<string, unknown>; positionals: string[] } {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    if (isParseArgsError(error)) throw new UsageError(withSuggestion(error, options));
    throw error;
  }
}

/** An unknown flag's message, with the known flag it misspells (as option names do: case, or two edits). */
function withSuggestion(error: TypeError, options: OptionsConfig): string {
  const flag = (error as { code?: unknown }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /'--([^'=]+)/.exec(error.message)?.[1] : undefined;
  const near = flag === undefined ? undefined : nearestName(flag, Object.keys(options));
  return near === undefined ? error.message : `Unknown option '--${flag}'. Did you mean '--${near}'?`;
}

/** node:util parseArgs throws TypeErrors with ERR_PARSE_ARGS_* codes for bad command lines. */
function isParseArgsError(error: unknown): error is TypeError {
  return error instanceof TypeError && String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS_');
}

/** An integer argument of at least `min` (a sequence, a count), or a usage error naming it. */
export function integerArg(name: string, text: string, min: 0 | 1 = 1): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`${name} must be ${min === 1 ? 'a positive integer' : 'an integer >= 0'}, got '${text}'`);
  }
  return value;
}

/**
 * Opens a ledger file for reading only: no writer and no writer lock, so it works while another
 * process appends. Returns what `use` returns, and closes the ledger whatever happens.
 */
export async function withReadonlyLedger<T>(
  path: string,
  use: (ledger: Ledger) => Promise<T> | T,
  options: Pick<LedgerOptions, 'allowSchemaMismatch'> = {},
): Promise<T> {
  const ledger = await openLedger(existingFile(path), { ...options, readonly: true });
  try {
    return await use(ledger);
  } finally {
    await ledger.close();
  }
}

/**
 * Opens an existing ledger file for writing, with `options` (the `--config` writer settings): it
 * takes the writer lock, so it fails with WRITER_LOCK_HELD while another process writes. Returns
 * what `use` returns, and closes the ledger whatever happens.
 */
export async function withWritableLedger<T>(path: string, options: LedgerOptions, use: (ledger: Ledger) => Promise<T> | T): Promise<T> {
  const ledger = await openLedger(existingFile(path), { ...options });
  try {
    return await use(ledger);
  } finally {
    await ledger.close();
  }
}

/**
 * The absolute path of an existing file. Checked here so that a typo says "no such file" rather
 * than what SQLite or openLedger make of a missing path.
 */
export function existingFile(path: string): string {
  const absolute = resolve(path);
  if (!existsSync(absolute)) throw new CliError('FILE_NOT_FOUND', `no ledger file at ${absolute}`);
  return absolute;
}

/** Writes to stdout; resolves once stdout can take more, so a slow reader holds the writer back. */
export async function writeOut(text: string): Promise<void> {
  if (text.length > 0 && !process.stdout.write(text)) await once(process.stdout, 'drain');
}

/** Prints `value` as one JSON line with `--json`, else the text `format` makes of it. */
export function print<T>(json: boolean, value: T, format: (value: T) => string): void {
  process.stdout.write(`${json ? JSON.stringify(value) : format(value)}\n`);
}

/** `1 event`, `2 events`. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
