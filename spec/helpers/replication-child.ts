/**
 * Child process of spec/replication.spec.ts, killed with SIGKILL by the parent.
 *
 *   node --import tsx spec/helpers/replication-child.ts append <primary> <replica>...
 *     opens the primary with sync replication to the replicas and appends one event at a time
 *     forever, writing {"sequence":n,"eventId":"..."} to stdout the moment each append resolves.
 *   node --import tsx spec/helpers/replication-child.ts copy <primary> <replica>
 *     copies the primary into the replica once (replicateFile), writing {"done":true,...} at the end.
 */
import { FileCopyReplicator, openLedger, replicateFile } from '../../lib/index.ts';

const [mode, primary, ...replicas] = process.argv.slice(2);

function line(value: unknown): void {
  // stdout to a pipe is synchronous on Linux: the line is out before the next await.
  process.stdout.write(JSON.stringify(value) + '\n');
}

if (mode === 'append' && primary && replicas.length > 0) {
  const ledger = await openLedger(primary, { replicas: replicas.map((path) => new FileCopyReplicator(path)), replication: 'sync' });
  line({ ready: true });
  for (let i = 0; ; i++) {
    const { sequence, eventId } = await ledger.append({ type: 'tick', streamId: `s${i % 3}`, payload: { i } });
    line({ sequence, eventId });
  }
} else if (mode === 'copy' && primary && replicas.length === 1) {
  const receipt = await replicateFile(primary, replicas[0]!);
  line({ done: true, status: receipt.status, sequence: receipt.sequence });
} else {
  process.stderr.write('usage: replication-child.ts append <primary> <replica>... | copy <primary> <replica>\n');
  process.exit(2);
}
