/**
 * Misspelled options name the option meant, for every option of every entry point: a difference
 * of case, or at most two edits (a missing, extra, wrong or swapped letter); anything further is
 * an unknown option with the list of known ones.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { nearestName, requireKnownKeys } from '../lib/arguments.ts';
import { openLedger } from '../lib/index.ts';
import { tempLedgerPath } from './helpers/temp-ledger.ts';

const LEDGER_OPTIONS = [
  'durability', 'maxPendingAppends', 'onFull', 'maxEventBytes', 'driftThresholdMs', 'requireSignatures', 'startupVerifyRows',
  'expectedHead', 'readonly', 'onInconsistency', 'eventTypes', 'retry', 'maxRestarts', 'restartWindowMs', 'allowDegraded',
  'logger', 'replicas', 'replication',
];

test('every openLedger option is suggested for a one-letter slip: dropped, doubled, swapped, or wrong case', async (t) => {
  for (const name of LEDGER_OPTIONS) {
    const slips = [name.slice(0, 2) + name.slice(3), name.slice(0, 2) + name[2] + name.slice(2), name[1]! + name[0]! + name.slice(2), name.toUpperCase()];
    for (const slip of slips) {
      await assert.rejects(openLedger(tempLedgerPath(t), { [slip]: undefined } as never), { name: 'TypeError', message: `Misspelled option "${slip}" should be "${name}"` }, slip);
    }
  }
});

test('the issue\'s examples, and what is too far to guess', () => {
  assert.throws(() => requireKnownKeys({ durabilty: 'full' }, LEDGER_OPTIONS), { message: 'Misspelled option "durabilty" should be "durability"' });
  assert.throws(() => requireKnownKeys({ readOnly: true }, LEDGER_OPTIONS), { message: 'Misspelled option "readOnly" should be "readonly"' });
  assert.throws(() => requireKnownKeys({ replica: [] }, LEDGER_OPTIONS), { message: 'Misspelled option "replica" should be "replicas"' });
  assert.throws(() => requireKnownKeys({ flavour: 1 }, LEDGER_OPTIONS), { message: `Unknown option "flavour"; known options: ${LEDGER_OPTIONS.join(', ')}` });
  // Short keys are never guessed: two edits would turn almost anything into them.
  assert.equal(nearestName('tx', ['to', 'from']), undefined);
  assert.equal(nearestName('TO', ['to', 'from']), 'to');
  assert.equal(nearestName('limt', ['limit', 'from']), 'limit');
  assert.equal(nearestName('strm', ['streamId']), undefined, 'four edits away');
});

test('a misspelled CLI flag names the flag meant; an unknown one keeps parseArgs\'s message', () => {
  const stele = fileURLToPath(new URL('../lib/cli/stele.ts', import.meta.url));
  const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', stele, ...args], { encoding: 'utf8' });
  const misspelled = run('head', 'missing.db', '--jsno');
  assert.equal(misspelled.status, 2);
  assert.match(misspelled.stderr, /^stele: USAGE: Unknown option '--jsno'\. Did you mean '--json'\?$/m);
  const unknown = run('head', 'missing.db', '--bogus');
  assert.match(unknown.stderr, /^stele: USAGE: Unknown option '--bogus'\. To specify a positional argument/m);
});
