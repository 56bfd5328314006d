import { openLedger } from '../lib/index.ts';
const l = await openLedger(process.argv[2]!);
await l.append({ type: 'a', streamId: 's1', payload: { x: 1 } });
await l.append({ type: 'b', streamId: 's1', payload: { x: 2 }, localTimestamp: new Date(0) });
await l.close();
