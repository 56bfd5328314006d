import { openLedger } from '../lib/index.ts';
const l = await openLedger('/tmp/vec/real.db');
await l.append({ type: 't', streamId: 's', payload: { a: 1 } });
await l.close();
