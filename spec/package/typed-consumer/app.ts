// A strict TypeScript app that installed Stele: typed events from zod schemas and from a hand-written
// map, `await using`, verification results, replicas and the stele/proofs subpath. It is only
// type-checked (spec/consumer-types.spec.ts, and spec/package/check.sh against the packed tarball),
// with skipLibCheck off, so every declaration file the package ships is checked too.
import { z } from 'zod';
import {
  FileCopyReplicator,
  isLedgerError,
  openLedger,
  verifyLedgerFile,
  type EventOf,
  type EventsOf,
  type Ledger,
  type LedgerEvent,
  type VerifyFault,
} from 'stele';
import { MemoryTree, inclusionProof, leafHash, verifyInclusion } from 'stele/proofs';

const eventTypes = {
  order_placed: z.object({ orderId: z.string(), total: z.number().positive() }),
  order_cancelled: z.object({ orderId: z.string(), reason: z.string().optional() }),
  heartbeat: true,
} as const;
type Shop = EventsOf<typeof eventTypes>;

type Bank = { deposited: { cents: bigint }; note: string | undefined };

export async function shop(path: string): Promise<number> {
  await using ledger = await openLedger(path, { eventTypes, replicas: [new FileCopyReplicator(`${path}.copy`)] });
  await ledger.append({ type: 'order_placed', streamId: 'order-1', payload: { orderId: 'o-1', total: 9.5 } });
  await ledger.appendBatch([{ type: 'order_cancelled', payload: { orderId: 'o-1' } }, { type: 'heartbeat' }]);
  // @ts-expect-error a wrong payload: total is a number
  await ledger.append({ type: 'order_placed', payload: { orderId: 'o-1', total: '9.5' } });
  let total = 0;
  for (const event of ledger.events({ streamId: 'order-1' })) {
    if (event.type === 'order_placed') total += event.payload.total;
  }
  const typed: EventOf<Shop> | undefined = ledger.get(1);
  const plain: Ledger = ledger;
  void typed;
  void plain;
  return total;
}

export async function bank(path: string): Promise<bigint> {
  const ledger = await openLedger<Bank>(path);
  try {
    await ledger.append({ type: 'deposited', payload: { cents: 5n } });
    await ledger.append({ type: 'note' });
    const event = ledger.get(1);
    return event?.type === 'deposited' ? event.payload.cents : 0n;
  } catch (error) {
    if (isLedgerError(error, 'LEDGER_HALTED')) return -1n;
    throw error;
  } finally {
    await ledger.close();
  }
}

export async function audit(path: string): Promise<string | undefined> {
  const result = await verifyLedgerFile(path, { onProgress: (p) => void p.checked });
  const fault: VerifyFault | undefined = result.firstBad;
  const untyped: LedgerEvent[] = [];
  void untyped;
  return fault && `${fault.reason} ${fault.schema?.missing.join(',') ?? ''}`;
}

export function proofs(): void {
  const tree = MemoryTree.fromLeaves([Uint8Array.of(1), Uint8Array.of(2)]);
  verifyInclusion(leafHash(Uint8Array.of(2)), 1, 2, inclusionProof(tree, 1), tree.root());
}
