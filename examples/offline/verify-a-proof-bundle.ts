/**
 * Checks a proof bundle (C2SP tlog-proof) of one Stele event with nothing but the bundle, the
 * event as JSON (its `contentHash`) and public keys: the log's, and the witnesses' with the
 * number of them that must have cosigned. No ledger file, no network; `stele/proofs` alone.
 *
 *   npx tsx examples/offline/verify-a-proof-bundle.ts BUNDLE EVENT.json --log-key VKEY [--origin ORIGIN] \
 *     [--witness VKEY ...] [--quorum K]
 *
 * Exits 0 when the event is proven, 1 when the bundle does not prove it.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { eventLeaf, verifyProofBundle } from 'stele/proofs';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { 'log-key': { type: 'string' }, origin: { type: 'string' }, witness: { type: 'string', multiple: true }, quorum: { type: 'string' } },
});
const [bundleFile, eventFile] = positionals;
if (!bundleFile || !eventFile || !values['log-key']) throw new Error('usage: verify-a-proof-bundle BUNDLE EVENT.json --log-key VKEY [--origin O] [--witness VKEY ...] [--quorum K]');

const event = JSON.parse(readFileSync(eventFile, 'utf8')) as { contentHash: string };
const result = verifyProofBundle(readFileSync(bundleFile, 'utf8'), {
  leaf: eventLeaf(event.contentHash),
  logKey: values['log-key'],
  ...(values.origin === undefined ? {} : { origin: values.origin }),
  ...(values.witness === undefined ? {} : { witnessKeys: values.witness }),
  ...(values.quorum === undefined ? {} : { quorum: Number(values.quorum) }),
});
if (!result.ok) {
  console.log(`refused (${result.code}): ${result.message}`);
  process.exit(1);
}
console.log(`event #${result.index + 1} is in the tree of ${result.checkpoint.size} events, cosigned by ${result.cosignatures.length} witnesses`);
