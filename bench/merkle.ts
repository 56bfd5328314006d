/**
 * The cost of the Merkle tree (005-merkle-tree.sql) and what it buys:
 *
 * (t0) appends by SQL through the append view, transactions of 1,000, the tree trigger dropped
 * (t1) the same with the tree: leaf and completed nodes written and guarded in each append
 * (p)  inclusion proofs generated from the stored tree at the ledger's size
 * (pv) those proofs verified (lib/proofs verifyInclusion)
 * (cs) checkpoints signed (root read from the store, C2SP note signed with Ed25519)
 *
 * (t0) and (t1) alternate on fresh files in one run, best of `rounds`; the figure is the SQL the
 * group commit runs, where the tree is the largest share of the work (through `appendBatch` the
 * thread hop and encoding dilute it further). Target: (t1) ÷ (t0) ≥ 0.85.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { APPEND_SQL } from '../lib/sqlite/append-statement.ts';
import { openWriteConnection } from '../lib/sqlite/connections.ts';
import { MerkleStore } from '../lib/sqlite/merkle-store.ts';
import { generateKeyPair, inclusionProof, leafHash, signCheckpoint, treeRoot, verifyInclusion } from '../lib/proofs/index.ts';
import { eventLeaf } from '../lib/proofs/event-leaf.ts';
import type { Ratio } from './append.ts';

export interface MerkleBenchSettings {
  /** Events per append round (a multiple of 1,000). */
  events: number;
  rounds: number;
  /** Proofs generated and verified. */
  proofs: number;
}

export interface MerkleBenchResult {
  results: Array<{ id: string; name: string; perSecond: number; unit: string }>;
  ratios: Ratio[];
}

const PAYLOAD = JSON.stringify({ sku: 'sku-123456', qty: 3, note: 'x'.repeat(150) });

export async function runMerkleBench(settings: MerkleBenchSettings, progress: (line: string) => void): Promise<MerkleBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'stele-bench-merkle-'));
  try {
    let best0 = 0;
    let best1 = 0;
    let last = '';
    for (let round = 0; round < settings.rounds; round++) {
      best0 = Math.max(best0, appendRound(join(dir, `t0-${round}.db`), false, settings.events));
      last = join(dir, `t1-${round}.db`);
      best1 = Math.max(best1, appendRound(last, true, settings.events));
      progress(`  round ${round + 1}: without the tree ${Math.round(best0).toLocaleString('en-US')}, with it ${Math.round(best1).toLocaleString('en-US')} events/s (best so far)`);
    }
    const { db } = openWriteConnection(last, { durability: 'normal', driftThresholdMs: 5_000 });
    try {
      const store = new MerkleStore(db);
      const size = store.size;
      const root = treeRoot(store, size);
      const hashOf = db.prepare<[number], string>('SELECT content_hash FROM events WHERE sequence = ?').pluck();
      const indexes = Array.from({ length: settings.proofs }, (_, i) => (i * 7_919) % size);
      let start = performance.now();
      const proofs = indexes.map((index) => inclusionProof(store, index, size));
      const generated = settings.proofs / ((performance.now() - start) / 1000);
      const leaves = indexes.map((index) => leafHash(eventLeaf(hashOf.get(index + 1)!)));
      start = performance.now();
      for (let i = 0; i < proofs.length; i++) verifyInclusion(leaves[i]!, indexes[i]!, size, proofs[i]!, root);
      const verified = settings.proofs / ((performance.now() - start) / 1000);
      const { signerKey } = generateKeyPair('bench.example/stele');
      const signings = 500;
      start = performance.now();
      for (let i = 0; i < signings; i++) signCheckpoint({ origin: 'bench.example/stele', size, rootHash: treeRoot(store, size) }, signerKey);
      const signed = signings / ((performance.now() - start) / 1000);
      const ratio = best1 / best0;
      return {
        results: [
          { id: 't0', name: 'SQL appends, tx of 1,000, no tree', perSecond: best0, unit: 'events' },
          { id: 't1', name: 'SQL appends, tx of 1,000, with the tree', perSecond: best1, unit: 'events' },
          { id: 'p', name: `inclusion proofs generated at ${size.toLocaleString('en-US')} events`, perSecond: generated, unit: 'proofs' },
          { id: 'pv', name: 'inclusion proofs verified', perSecond: verified, unit: 'proofs' },
          { id: 'cs', name: 'checkpoints signed (root read + Ed25519 note)', perSecond: signed, unit: 'checkpoints' },
        ],
        ratios: [{ name: '(t1)/(t0) append with the tree', durability: 'normal', value: ratio, target: '>= 0.85', met: ratio >= 0.85 }],
      };
    } finally {
      db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function appendRound(path: string, tree: boolean, events: number): number {
  const { db } = openWriteConnection(path, { durability: 'normal', driftThresholdMs: 5_000 });
  try {
    if (!tree) db.exec('DROP TRIGGER events_merkle_tree');
    const insert = db.prepare(APPEND_SQL);
    const batch = db.transaction((n: number) => {
      const now = Date.now();
      for (let i = 0; i < n; i++) insert.run(randomUUID(), '$default', 'bench', PAYLOAD, null, null, null, null, null, now, null);
    });
    const start = performance.now();
    for (let done = 0; done < events; done += 1_000) batch.immediate(1_000);
    return events / ((performance.now() - start) / 1000);
  } finally {
    db.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const events = Number(process.argv[2] ?? 50_000);
  const result = await runMerkleBench({ events, rounds: 3, proofs: 20_000 }, console.log);
  for (const r of result.results) console.log(`(${r.id}) ${r.name}: ${Math.round(r.perSecond).toLocaleString('en-US')} ${r.unit}/s`);
  for (const r of result.ratios) console.log(`${r.name}: ${r.value.toFixed(2)} (target ${r.target}) ${r.met ? 'MET' : 'MISSED'}`);
}
