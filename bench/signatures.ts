/**
 * Signed appends against this machine's own ed25519 floor, in the same run:
 *
 * (s0) one thread: node:crypto `verify(null, bytes, keyObject, signature)` over the signable
 *      bytes and signatures of the very events (s1) appends, pre-decoded: the least any signed
 *      append can cost, since the ledger verifies every signature (on a pool of threads when
 *      many arrive at once, else in SQL; node:crypto either way).
 * (s1) 1,000 signed `append()` in flight, then wait for all, as append.ts's (c), at durability
 *      'full' and 'normal', each on a fresh file with the agent's key registered.
 *
 * Target: (s1) ≥ 1.2 × (s0) in events/s at 'full', the default durability; 'normal' is shown
 * for information. The events (200-byte JSON payloads) are signed before any timing starts.
 *
 * From the bench runner:
 *   import { runSignatureBench } from './signatures.ts';
 *   const { results, ratios } = await runSignatureBench({ events: 50_000 }, (line) => console.log(line));
 * Standalone: `npx tsx bench/signatures.ts [--events 50000]`.
 */
import { createPrivateKey, createPublicKey, randomUUID, sign, verify } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { generateAgentKeyPair, openLedger, signableBytes, signEvent, type AgentKeyPair, type AppendInput } from '../lib/index.ts';
import { PAYLOAD, type Durability, type Ratio } from './append.ts';

export interface SignatureBenchSettings {
  /** Timed signed appends per durability, and timed verifications in (s0). A multiple of 1,000. */
  events: number;
  durabilities?: readonly Durability[];
}

export interface SignatureScenarioResult {
  id: 's0' | 's1';
  name: string;
  /** Undefined for (s0), which touches no file. */
  durability: Durability | undefined;
  events: number;
  seconds: number;
  eventsPerSecond: number;
}

const GROUP = 1_000;
/** Discarded before timing, as in append.ts: JIT, statement caches, the WAL file's first growth. */
const WARMUP_GROUPS = 2;
const AGENT = 'bench-agent';
/** Signatures also made by signEvent() (tweetnacl) and compared, byte for byte, with node:crypto's. */
const CROSS_CHECKED = 20;
/** DER prefixes that wrap a raw 32-byte ed25519 seed (PKCS#8) or public key (SPKI). */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export async function runSignatureBench(
  settings: SignatureBenchSettings,
  progress: (line: string) => void = () => {},
): Promise<{ results: SignatureScenarioResult[]; ratios: Ratio[] }> {
  const { events } = settings;
  if (!Number.isSafeInteger(events) || events < GROUP || events % GROUP !== 0) throw new RangeError(`events must be a multiple of ${GROUP}`);
  const keys = generateAgentKeyPair();
  let started = performance.now();
  const signed = presign(keys, events + WARMUP_GROUPS * GROUP);
  progress(`  signed ${signed.length.toLocaleString('en-US')} events in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  const results: SignatureScenarioResult[] = [];
  const record = (result: SignatureScenarioResult) => {
    results.push(result);
    progress(`  ${result.id} ${result.durability ?? '-'}: ${Math.round(result.eventsPerSecond).toLocaleString('en-US')} events/s`);
  };
  record(verifyLoop(keys, signed));

  const dir = mkdtempSync(join(tmpdir(), 'stele-bench-sig-'));
  try {
    for (const durability of settings.durabilities ?? (['full', 'normal'] as const)) {
      const sub = join(dir, durability);
      mkdirSync(sub);
      // The events were signed up to a few seconds (in a full run, up to a minute) before they
      // are appended; a drift warning row per event would be measured, not signature checking.
      const ledger = await openLedger(join(sub, 'ledger.db'), { durability, driftThresholdMs: 24 * 3600_000 });
      try {
        await ledger.registerAgentKey(AGENT, keys.publicKey);
        const group = (g: number) => Promise.all(signed.slice(g * GROUP, (g + 1) * GROUP).map((input) => ledger.append(input)));
        for (let g = 0; g < WARMUP_GROUPS; g++) await group(g);
        started = performance.now();
        for (let g = WARMUP_GROUPS; g < signed.length / GROUP; g++) await group(g);
        const seconds = (performance.now() - started) / 1000;
        record({ id: 's1', name: '1,000 signed append() in flight', durability, events, seconds, eventsPerSecond: events / seconds });
      } finally {
        await ledger.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const s0 = results[0]!;
  const ratios = results.slice(1).map((s1): Ratio => {
    const value = s1.eventsPerSecond / s0.eventsPerSecond;
    const name = '(s1)/(s0)';
    return s1.durability === 'full' ? { name, durability: 'full', value, target: '>= 1.2', met: value >= 1.2 } : { name, durability: s1.durability!, value };
  });
  return { results, ratios };
}

/**
 * Inputs ready for append(), as signEvent() makes them. tweetnacl signs at a few hundred per
 * second here (minutes for a full run), so the bulk is signed with node:crypto from the same
 * tweetnacl key; ed25519 signatures are deterministic, and the first few are checked to be the
 * ones signEvent() makes.
 */
function presign(keys: AgentKeyPair, count: number): AppendInput[] {
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, keys.secretKey.subarray(0, 32)]), format: 'der', type: 'pkcs8' });
  const inputs: AppendInput[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const unsigned: AppendInput = { type: 'bench_event', payload: PAYLOAD, eventId: randomUUID(), localTimestamp: new Date(), agentId: AGENT };
    const signature = sign(null, signableBytes(unsigned), privateKey).toString('base64');
    if (i < CROSS_CHECKED && signEvent(unsigned, AGENT, keys.secretKey).signature !== signature) {
      throw new Error('node:crypto and signEvent() signed the same event differently');
    }
    inputs[i] = { ...unsigned, signature };
  }
  return inputs;
}

/** (s0): bytes and signatures are prepared first, so only verify() itself is timed. */
function verifyLoop(keys: AgentKeyPair, signed: readonly AppendInput[]): SignatureScenarioResult {
  const publicKey = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, Buffer.from(keys.publicKey, 'base64')]), format: 'der', type: 'spki' });
  const bytes = signed.map((input) => signableBytes(input));
  const signatures = signed.map((input) => Buffer.from(input.signature!, 'base64'));
  const run = (from: number, to: number) => {
    for (let i = from; i < to; i++) if (!verify(null, bytes[i]!, publicKey, signatures[i]!)) throw new Error(`signature ${i} failed to verify`);
  };
  // Same split as (s1): the first groups warm up, the rest are timed.
  run(0, WARMUP_GROUPS * GROUP);
  const started = performance.now();
  run(WARMUP_GROUPS * GROUP, signed.length);
  const seconds = (performance.now() - started) / 1000;
  const events = signed.length - WARMUP_GROUPS * GROUP;
  return { id: 's0', name: 'single-thread node:crypto ed25519 verify', durability: undefined, events, seconds, eventsPerSecond: events / seconds };
}

if (import.meta.url === new URL(process.argv[1] ?? '', 'file://').href) {
  const { values } = parseArgs({ options: { events: { type: 'string', default: '50000' } } });
  const events = Number(values.events);
  console.log(`stele signature benchmark: ${events.toLocaleString('en-US')} signed events per durability`);
  const { ratios } = await runSignatureBench({ events }, (line) => console.log(line));
  for (const r of ratios) console.log(`  ratio ${r.name} ${r.durability}: ${r.value.toFixed(2)}×${r.target ? ` (target ${r.target}: ${r.met ? 'MET' : 'MISSED'})` : ''}`);
}
