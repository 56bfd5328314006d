/**
 * `--config <file>`: writer settings from a JSON file, validated before anything is opened.
 * Every command checks it; only `append`, the one command that opens a writer, uses it.
 * @internal
 */
import { readFileSync } from 'node:fs';
import type { LedgerOptions } from '../index.ts';
import { resolveOptions } from '../options.ts';
import { UsageError } from './cli-error.ts';

/** The settings a config file may hold: those of the writer. */
export type WriterConfig = Pick<LedgerOptions, 'retry' | 'driftThresholdMs' | 'durability'>;

const SETTINGS: ReadonlyArray<keyof WriterConfig> = ['retry', 'driftThresholdMs', 'durability'];

/**
 * Reads and validates a config file, e.g. `{ "durability": "normal", "retry": { "attempts": 5 } }`.
 * Every problem is a usage error naming the file and the setting; the values are checked by the
 * same validation as `openLedger` options, so the rules and messages are the library's.
 */
export function loadWriterConfig(path: string): WriterConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`--config ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--config ${path}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new UsageError(`--config ${path}: must be a JSON object of writer settings (${SETTINGS.join(', ')})`);
  }
  for (const key of Object.keys(config)) {
    if (!(SETTINGS as readonly string[]).includes(key)) {
      throw new UsageError(`--config ${path}: unknown setting "${key}"; known settings: ${SETTINGS.join(', ')}`);
    }
  }
  try {
    resolveOptions(config as WriterConfig);
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) throw new UsageError(`--config ${path}: ${error.message}`);
    throw error;
  }
  return config as WriterConfig;
}
