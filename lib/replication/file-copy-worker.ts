/**
 * The thread behind a {@link FileCopyReplicator}: it alone writes the copy, so propagation never
 * runs on the app's thread nor on the ledger's writer. The copy is opened at the first request
 * (and again after a failure that closed it), so an unreachable copy fails its receipts instead
 * of the ledger's opening.
 * @internal
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LedgerError, toWire } from '../errors.ts';
import { ReplicaFile } from './replica-file.ts';
import type { CopierReply, CopierRequest, CopierStartup } from './file-copy-protocol.ts';

const { replicaPath, primaryPath } = workerData as CopierStartup;
const port = parentPort!;
let replica: ReplicaFile | undefined;

port.on('message', (request: CopierRequest) => {
  if (request.kind === 'close') {
    replica?.close();
    port.close();
    return;
  }
  let reply: CopierReply;
  try {
    replica ??= ReplicaFile.open(replicaPath, primaryPath);
    const { head } = replica.propagate(request.upTo);
    reply = { id: request.id, sequence: head.sequence };
  } catch (error) {
    const coded = error instanceof LedgerError;
    const sequence = replica?.head().sequence ?? 0;
    // An uncoded failure (the disk, SQLite itself) may have left the connection unusable: reopen next time.
    if (!coded) {
      replica?.close();
      replica = undefined;
    }
    const failure = coded ? error : LedgerError.of('REPLICATION_FAILED', { path: replicaPath }, error instanceof Error ? error.message : String(error));
    reply = { id: request.id, sequence, error: toWire(failure) };
  }
  port.postMessage(reply);
});
