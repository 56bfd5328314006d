/**
 * `stele/postgres`: ledgers copied into PostgreSQL, whose triggers enforce the rules of
 * native-sql/FORMAT.md there too. A secondary entry point, so that `stele` itself never loads
 * node-postgres: install `pg` (an optional peer dependency) to use it.
 */
export { PostgresReplicator } from './replication/postgres-replicator.ts';
export type { PostgresReplicatorOptions } from './replication/postgres-replicator.ts';
export { openPostgresReplica, PostgresReplica } from './replication/postgres-replica.ts';
export type { PostgresReplicaOptions } from './replication/postgres-replica.ts';
export { installPostgresLedger, POSTGRES_SQL_PATH } from './replication/postgres-install.ts';
export { restoreFromPostgres } from './replication/postgres-restore.ts';
export type { PostgresRestore } from './replication/postgres-restore.ts';
export type { InstallPostgresLedgerOptions, PostgresLedgerInstallation } from './replication/postgres-install.ts';
export type { PostgresConnection, PostgresConnectionOptions, PostgresPool, PostgresSession, PostgresQueryable } from './replication/postgres-client.ts';
