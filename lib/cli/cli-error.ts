/**
 * The errors the `stele` command raises itself, its exit codes, and how any error is printed.
 * @internal
 */
import { LedgerError } from '../index.ts';

/** Exit codes of the `stele` command, the same for every command. */
export const ExitCode = { ok: 0, failed: 1, usage: 2 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * A failure the CLI reports itself, with a stable code like {@link LedgerError}'s and the exit code
 * it ends the process with.
 */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: ExitCode = ExitCode.failed,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Wrong arguments: exit code 2, and a pointer to `--help`. */
export class UsageError extends CliError {
  constructor(message: string) {
    super('USAGE', message, ExitCode.usage);
    this.name = 'UsageError';
  }
}

/** An error as the CLI prints it: a stable code first (LedgerError, CliError, SQLite or system code). */
export interface ErrorJson {
  code: string;
  message: string;
  details: Readonly<Record<string, unknown>>;
}

export function describeError(error: unknown): ErrorJson {
  if (error instanceof LedgerError) {
    // A LedgerError's message already starts with its code.
    return { code: error.code, message: error.message.slice(error.code.length + 2), details: error.details };
  }
  if (error instanceof Error) {
    // CliError, SqliteError and Node's system errors carry a string code (SQLITE_CORRUPT, EACCES...).
    const code = (error as { code?: unknown }).code;
    return { code: typeof code === 'string' ? code : error.name, message: error.message, details: {} };
  }
  return { code: 'ERROR', message: String(error), details: {} };
}
