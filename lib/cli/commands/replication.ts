/**
 * `stele replicate <file> <dest>` and `stele verify-replica <file> <replica>`.
 * @internal
 */
import { replicateFile, verifyReplicaFile } from '../../index.ts';
import { describeError, ExitCode } from '../cli-error.ts';
import { defineCommand, existingFile, print } from '../command.ts';

export const replicateCommand = defineCommand({
  name: 'replicate',
  summary: 'Bring a replica file up to date with its primary (creates it when missing).',
  positionals: ['file', 'dest'],
  options: {},
  help: `
Options:
  --json   print the receipt: {"replicaId","sequence","status","at","error"?}

Copies the rows the replica lacks, verbatim, through the replica's own guards, and confirms them
durably. It takes the replica's writer lock; the primary is only read, so its app may keep
appending. Exits 0 when the receipt is confirmed, 1 otherwise (a diverged replica is never
overwritten).`,
  async run({ args, json }) {
    const receipt = await replicateFile(existingFile(args.file), args.dest);
    const { error, ...rest } = receipt;
    const printed = { ...rest, at: receipt.at.toISOString(), ...(error && { error: describeError(error) }) };
    print(json, printed, (r) => {
      const line = `${r.status}: replica ${r.replicaId} holds #1..#${r.sequence}`;
      return r.error ? `${line}\n  ${r.error.code}: ${r.error.message}` : line;
    });
    return receipt.status === 'confirmed' ? ExitCode.ok : ExitCode.failed;
  },
});

export const verifyReplicaCommand = defineCommand({
  name: 'verify-replica',
  summary: 'Check a replica against its primary: head hash, continuity, schema version, signatures.',
  positionals: ['file', 'replica'],
  options: {},
  help: `
Options:
  --json   print {"replicaId","ok","sequence","lag","headHashMatch","signatureValid",
           "schemaVersionMatch","continuous","firstBad"?,"errors"}

Exits 0 when every check passes (a replica that is behind, lag > 0, passes if what it holds is
right), 1 otherwise, listing what failed.`,
  async run({ args, json }) {
    const result = await verifyReplicaFile(existingFile(args.file), existingFile(args.replica));
    print(json, result, (r) =>
      [`${r.ok ? 'OK' : 'FAILED'}: replica ${r.replicaId} at #${r.sequence}, ${r.lag} behind its primary`, ...r.errors.map((e) => `  ${e}`)].join('\n'),
    );
    return result.ok ? ExitCode.ok : ExitCode.failed;
  },
});
