/**
 * Stele: a tamper-evident, append-only event ledger on one SQLite file.
 *
 * @example
 * ```ts
 * import { openLedger } from 'stele';
 *
 * const ledger = await openLedger('./audit.db');
 * await ledger.append({ type: 'user_login', streamId: 'user-ada', payload: { ip: '10.0.0.7' } });
 * for (const event of ledger.readStream('user-ada')) console.log(event.sequence, event.type);
 * await ledger.close();
 * ```
 * @module stele
 */
export { openLedger } from './ledger/open-ledger.ts';
export { Ledger } from './ledger/ledger.ts';
export { LedgerReads } from './ledger/ledger-reads.ts';
export type {
  AppendBatchOptions,
  ReadAllOptions,
  ReadStreamOptions,
  ClockDriftWarning,
  LedgerEvents,
} from './ledger/ledger-types.ts';
export type { DiagnosticMessages } from './diagnostics.ts';
export type { BackupResult } from './ledger/backup.ts';
export type { EventQuery } from './ledger/event-query.ts';
export type { EventMap, UntypedEvents, EventTypeSchemas, EventsOf, EventOf, InputOf, SystemEvent } from './ledger/typed-events.ts';
export { DEFAULT_STREAM } from './event.ts';
export type { AppendInput, AppendResult, LedgerEvent, LedgerHead, ExpectedVersion } from './event.ts';
export { LedgerError, isLedgerError } from './errors.ts';
export type { LedgerErrorCode } from './errors.ts';
export type { LedgerOptions, CheckpointOptions } from './options.ts';
export type { HaltState, RegisterAgentKeyOptions } from './ledger/ledger-types.ts';
// The signing helpers, as the browser entry `stele/signing` exports them.
export * from './signing.ts';
export { FileCopyReplicator } from './replication/file-copy-replicator.ts';
export type { FileCopyReplicatorOptions } from './replication/file-copy-replicator.ts';
export type { Replicator, PrimarySource, ReplicationReceipt, VerificationResult } from './replication/replicator.ts';
export type { ReplicaHealth } from './replication/replica-set.ts';
export { openReplica, replicaInfo, replicateFile, promoteReplica } from './replication/replica-tools.ts';
export type { ReplicaInfo, PromotionCeremony, PromoteReplicaOptions } from './replication/replica-tools.ts';
export { verifyReplicaFile } from './replication/replica-tools.ts';
export { verifyLedgerFile } from './verify/verify-ledger-file.ts';
export type { SchemaDiff } from './sqlite/schema-diff.ts';
export type { VerifyOptions, VerifyResult, VerifyProgress, VerifyFault, VerifyFaultReason } from './verify/verify-ledger-file.ts';
export type { LedgerHealth, DegradedWarning, EventTypesMismatchWarning, ReplicationWarning, SchemaMismatchWarning, CheckpointFailedWarning, StoredCheckpoint } from './ledger/ledger-types.ts';
export type { Logger } from './options.ts';
export type { StandardSchemaV1, StandardResult, StandardIssue, PayloadIssue } from './format/payload-schema.ts';
export type { SubscribeOptions, SubscriptionHandler, SubscriptionItem, Subscription, SubscriptionStream } from './ledger/subscription-options.ts';
// A C2SP tlog-witness others can run, and the client that asks witnesses to cosign a checkpoint.
export { serveWitness } from './witness/witness-server.ts';
export type { WitnessServer, WitnessServerOptions, WitnessAnswerInfo } from './witness/witness-server.ts';
export type { WitnessOptions, WitnessedLog } from './witness/witness.ts';
export { requestCosignature, cosignWithWitness } from './witness/witness-client.ts';
export type { RequestCosignatureOptions, WitnessCosignature, CheckpointSource } from './witness/witness-client.ts';
