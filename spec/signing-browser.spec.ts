/**
 * stele/signing runs outside Node: lib/signing.ts bundles with esbuild for the browser platform
 * with no `node:` module, no better-sqlite3 and nothing of the ledger, and the bundle, run in a
 * `node:vm` context that has only `crypto.getRandomValues` and `URL` (no require, no process, no
 * Buffer, no TextEncoder), signs byte for byte as the main entry does on Node: the same signable bytes
 * and signatures for the same event, witness signatures a ledger accepts in a ceremony, and
 * keys and events made there that a ledger accepts.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { webcrypto } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { test } from 'node:test';
import {
  clearHaltSignableBytes,
  generateAgentKeyPair,
  isLedgerError,
  promoteReplicaSignableBytes,
  signableBytes,
  signEvent,
  witnessClearHalt,
  witnessPromotion,
  type AppendInput,
} from '../lib/index.ts';
import { portableUtf8Length, portableWriteUtf8, toBase64 } from '../lib/format/portable-bytes.ts';
import { bundleForBrowser } from './helpers/browser-bundle.ts';
import { createLedger } from './helpers/temp-ledger.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ENTRY = path.join(ROOT, 'lib/signing.ts');

/** A context with what every browser and edge runtime has that the helpers need, and nothing else. */
async function signingContext(): Promise<vm.Context> {
  const report = await bundleForBrowser({ entry: ENTRY }, 'steleSigning');
  assert.deepEqual(report.nodeImports, [], 'node: or external imports in the browser bundle');
  // URL: superjson tests values with `instanceof URL`.
  const context = vm.createContext({ URL, crypto: { getRandomValues: <T extends Uint8Array>(array: T) => webcrypto.getRandomValues(array) } });
  // tweetnacl finds its random source as self.crypto, as in a browser or a worker.
  vm.runInContext('globalThis.self = globalThis;', context);
  vm.runInContext(report.code, context, { filename: 'stele-signing.bundle.js', timeout: 10_000 });
  return context;
}

/** Runs `body` (an expression over `s`, the bundle's exports, and `input`) in the context; JSON in, JSON out. */
function inBundle(context: vm.Context, body: string, input: unknown = null): unknown {
  const source = `(() => { const s = steleSigning; const input = ${JSON.stringify(input)}; return JSON.stringify(${body}); })()`;
  return JSON.parse(vm.runInContext(source, context, { timeout: 10_000 }) as string);
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** Builds the same rich event in either realm: the vm's own Date, Map, Set and typed arrays. */
const EVENT_SOURCE = `({ eventId, at }) => ({
  type: 'badge_scanned',
  streamId: 'door-3 ü 🎉',
  eventId,
  localTimestamp: new Date(at),
  payload: {
    badge: 'b-19', at: new Date(at + 1), n: 2n ** 70n, none: undefined, nan: NaN, text: 'ünïcödé 🎉 \\ud800 end',
    tags: new Set(['a', 'b']), seen: new Map([['door', 3], ['floor', -1.5]]), bytes: Uint8Array.of(0, 1, 255), nested: [{ deep: [null, true] }],
  },
  metadata: { via: 'kiosk' },
})`;
const makeEvent = new Function(`return ${EVENT_SOURCE}`)() as (arg: { eventId: string; at: number }) => AppendInput;

test('the check sees a node: import when there is one, and what the bundle holds is signing alone', async () => {
  const probe = await bundleForBrowser({ contents: "import { randomFillSync } from 'node:crypto'; export const r = randomFillSync;" }, 'probe');
  assert.deepEqual(probe.nodeImports, ['node:crypto']);
  const report = await bundleForBrowser({ entry: ENTRY }, 'steleSigning');
  assert.deepEqual(report.nodeImports, []);
  const allowed = /^(lib\/signing\.ts|lib\/errors\.ts|lib\/event\.ts|lib\/format\/.*|node_modules\/(tweetnacl|superjson|copy-anything|is-what)\/.*|\(disabled\):crypto)$/;
  assert.deepEqual(report.inputs.filter((input) => !allowed.test(input)), []);
  // Nothing that verifies, hashes or opens files: those stay on Node.
  for (const nodeOnly of ['lib/format/ed25519.ts', 'lib/format/hash-bytes.ts', 'lib/format/merkle-hash.ts']) assert.ok(!report.inputs.includes(nodeOnly), nodeOnly);
  assert.ok(report.inputs.includes('lib/format/value-codec.ts'), 'the one value codec is in it');
});

test('signed in the browser bundle and on Node: the same bytes and the same signatures, which the ledger accepts', async (t) => {
  const context = await signingContext();
  assert.equal(inBundle(context, '[typeof require, typeof process, typeof Buffer, typeof TextEncoder, typeof atob].join()'), 'undefined,undefined,undefined,undefined,undefined');
  const keys = generateAgentKeyPair();
  const arg = { eventId: '0193a0b2-7c5d-7e6f-8a1b-2c3d4e5f6a7b', at: Date.UTC(2026, 0, 2, 3, 4, 5, 6) };
  const secret = Array.from(keys.secretKey);

  const browser = inBundle(
    context,
    `(() => {
      const event = (${EVENT_SOURCE})(input.arg);
      const key = Uint8Array.from(input.secret);
      const signed = s.signEvent(event, 'kiosk-7', key);
      const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
      const halt = { sequence: 41, contentHash: 'ab'.repeat(32) };
      const subject = { replicaId: 'replica-ü', head: { sequence: 40, contentHash: 'cd'.repeat(32) } };
      return {
        signature: signed.signature, agentId: signed.agentId,
        bytes: hex(s.signableBytes(signed)),
        clearHalt: [hex(s.clearHaltSignableBytes(halt, 'disk replaced ✓')), s.witnessClearHalt(halt, 'disk replaced ✓', 'alice', key)],
        promotion: [hex(s.promoteReplicaSignableBytes(subject, 'primary lost')), s.witnessPromotion(subject, 'primary lost', 'bob', key)],
      };
    })()`,
    { arg, secret },
  );

  const signed = signEvent(makeEvent(arg), 'kiosk-7', keys.secretKey);
  const halt = { sequence: 41, contentHash: 'ab'.repeat(32) };
  const subject = { replicaId: 'replica-ü', head: { sequence: 40, contentHash: 'cd'.repeat(32) } };
  assert.deepEqual(browser, {
    signature: signed.signature,
    agentId: 'kiosk-7',
    bytes: hex(signableBytes(signed)),
    clearHalt: [hex(clearHaltSignableBytes(halt, 'disk replaced ✓')), witnessClearHalt(halt, 'disk replaced ✓', 'alice', keys.secretKey)],
    promotion: [hex(promoteReplicaSignableBytes(subject, 'primary lost')), witnessPromotion(subject, 'primary lost', 'bob', keys.secretKey)],
  });

  // The ledger's trigger accepts the browser's signature on the event it signed, and refuses it on another.
  const ledger = await createLedger(t);
  await ledger.registerAgentKey('kiosk-7', keys.publicKey);
  const { signature } = browser as { signature: string };
  await assert.rejects(
    ledger.append({ ...makeEvent({ ...arg, eventId: '0193a0b2-7c5d-7e6f-8a1b-2c3d4e5f6a7c' }), agentId: 'kiosk-7', signature }),
    (error) => isLedgerError(error, 'SIGNATURE_INVALID'),
  );
  const result = await ledger.append({ ...makeEvent(arg), agentId: 'kiosk-7', signature });
  assert.equal(ledger.get(result.sequence)?.signature, signature);
});

test('keys, events and witness signatures made in the browser bundle are accepted by a ledger', async (t) => {
  const context = await signingContext();
  const made = inBundle(
    context,
    `(() => {
      const agent = s.generateAgentKeyPair();
      const witnesses = [s.generateAgentKeyPair(), s.generateAgentKeyPair()];
      const signed = s.signEvent({ type: 'badge_scanned', streamId: 'door-3', payload: { badge: 'b-19' } }, 'kiosk-7', agent.secretKey);
      let refused = 'accepted';
      try { s.signEvent({ type: 'badge_scanned', payload: { f: () => 1 } }, 'kiosk-7', agent.secretKey); }
      catch (error) { refused = s.isLedgerError(error, 'INVALID_EVENT') ? error.code + ' at ' + error.details.path : String(error); }
      return {
        agent: agent.publicKey, secrets: witnesses.map((w) => Array.from(w.secretKey)), witnesses: witnesses.map((w) => w.publicKey),
        event: { ...signed, localTimestamp: signed.localTimestamp.getTime() }, refused,
      };
    })()`,
  ) as { agent: string; secrets: number[][]; witnesses: string[]; event: AppendInput & { localTimestamp: number }; refused: string };
  assert.equal(made.refused, 'INVALID_EVENT at payload.f');
  assert.match(made.event.eventId!, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

  const ledger = await createLedger(t);
  await ledger.registerAgentKey('kiosk-7', made.agent);
  await ledger.registerAgentKey('alice', made.witnesses[0]!, { role: 'witness' });
  await ledger.registerAgentKey('bob', made.witnesses[1]!, { role: 'witness' });
  const appended = await ledger.append({ ...made.event, localTimestamp: new Date(made.event.localTimestamp) });
  assert.equal(ledger.get(appended.sequence)?.agentId, 'kiosk-7');

  // A clearHalt ceremony whose witness signatures were made in the bundle.
  const halt = await ledger.halt('drill');
  const reason = 'drill over ✓';
  const witnesses = inBundle(
    context,
    `input.secrets.map((secret, i) => s.witnessClearHalt(input.halt, input.reason, ['alice', 'bob'][i], Uint8Array.from(secret)))`,
    { secrets: made.secrets, halt: { sequence: halt.sequence, contentHash: halt.contentHash }, reason },
  ) as { witnessId: string; signature: string }[];
  await ledger.clearHalt({ reason, witnesses });
  assert.equal(ledger.haltState().halted, false);
  assert.equal((await ledger.verify()).ok, true);
});

test('the portable UTF-8 and base64 of the signing path write what Buffer writes, lone surrogates included', () => {
  const texts = ['', 'ascii', 'é', 'ü€', '🎉', 'a\ud800b', '\udc00', 'x\ud83d', '\ud83d\ude00\ud800', 'ࠀ\u07ff\uffff', '𐀀'.repeat(3)].map((t) => JSON.parse(`"${t}"`) as string);
  for (const text of texts) {
    const expected = Buffer.from(text, 'utf8');
    assert.equal(portableUtf8Length(text), expected.length, JSON.stringify(text));
    const bytes = new Uint8Array(expected.length + 2);
    assert.equal(portableWriteUtf8(bytes, text, 1), expected.length);
    assert.equal(hex(bytes.subarray(1, 1 + expected.length)), expected.toString('hex'), JSON.stringify(text));
  }
  for (let n = 0; n < 70; n++) {
    const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
    assert.equal(toBase64(bytes), Buffer.from(bytes).toString('base64'));
  }
});
