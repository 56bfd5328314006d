/**
 * `stele restore <file> --from <postgres-url> --ledger <name>`: a ledger file rebuilt from its
 * copy in PostgreSQL (see `restoreFromPostgres`). Needs `pg` installed beside Stele.
 */
import { restoreFromPostgres } from '../../postgres.ts';
import { ExitCode, UsageError } from '../cli-error.ts';
import { defineCommand, print } from '../command.ts';

export const restoreCommand = defineCommand({
  name: 'restore',
  summary: 'Rebuild a ledger file from its copy in PostgreSQL, then verify the file.',
  positionals: ['file'],
  options: { from: { type: 'string' }, ledger: { type: 'string' } },
  usage: '--from <postgres-url> --ledger <name>',
  help: `
Options:
  --from URL     the PostgreSQL database, e.g. postgres://auditor@hub.internal/audit
  --ledger NAME  the ledger's name there (its schema)
  --json         print {"path","head","copied","verified"}

The file is written as a replica of the PostgreSQL ledger: rows are copied verbatim through its
own guards, one durable transaction per 10,000, then the whole file is verified. Run it again on
the same file to copy only what is new. Like any replica it opens read-only until promoted
(promoteReplica). Exits 0 when the restored file verifies, 1 otherwise.`,
  async run({ args, values, json }) {
    if (!values.from || !values.ledger) throw new UsageError('restore needs --from <postgres-url> and --ledger <name>');
    const restored = await restoreFromPostgres(values.from, { ledger: values.ledger, path: args.file });
    print(json, restored, (r) =>
      r.verified.ok
        ? `OK: ${r.path} holds #1..#${r.head.sequence} of ${values.ledger} (${r.copied} rows copied), chain intact`
        : `FAILED: ${r.path} does not verify at #${r.verified.firstBad?.sequence} (${r.verified.firstBad?.reason})`,
    );
    return restored.verified.ok ? ExitCode.ok : ExitCode.failed;
  },
});
