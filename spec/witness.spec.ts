/**
 * The witness (C2SP tlog-witness `add-checkpoint`) against real ledgers: a server on 127.0.0.1, a
 * state file and a ledger file in a temp directory. Each refusal has the status the spec gives
 * it and the client's error code; what it cosigns verifies with lib/proofs and the witness's key;
 * its state survives a restart and never goes back, even through SQLite directly.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { cosignWithWitness, LedgerError, requestCosignature, serveWitness, type Ledger, type WitnessServer } from '../lib/index.ts';
import {
  cosignatureVerifier,
  eventLeaf,
  generateKeyPair,
  signCheckpoint,
  SIGNATURE_TYPE_COSIGNATURE_V1,
  verifyCosignedCheckpoint,
  verifyNote,
  verifyProofBundle,
  parseCheckpoint,
  parseNote,
} from '../lib/proofs/index.ts';
import { formatAddCheckpointRequest } from '../lib/witness/add-checkpoint.ts';
import { runChild } from './helpers/run-child.ts';
import { reopen, tempDir } from './helpers/temp-ledger.ts';

const ORIGIN = 'example.com/stele/witnessed';
const LOG = generateKeyPair(ORIGIN, { seed: new Uint8Array(32).fill(11) });
const IMPOSTOR = generateKeyPair(ORIGIN, { seed: new Uint8Array(32).fill(12) });
const OTHER = generateKeyPair('example.com/stele/other', { seed: new Uint8Array(32).fill(13) });
const WITNESS = generateKeyPair('witness.example/w1', { type: SIGNATURE_TYPE_COSIGNATURE_V1, seed: new Uint8Array(32).fill(14) });
const SOURCE_CLI = join(import.meta.dirname, '../lib/cli/stele.ts');

/** A witness of the ORIGIN log (and of OTHER's, unless `logs` says otherwise), closed after the test. */
async function startWitness(t: TestContext, state: string): Promise<WitnessServer> {
  const witness = await serveWitness({ state, secretKey: WITNESS.signerKey, logs: [{ origin: ORIGIN, verifierKey: LOG.verifierKey }] });
  t.after(() => witness.close());
  return witness;
}

/** A ledger signing ORIGIN checkpoints with `events` events appended. */
async function logWith(t: TestContext, path: string, events: number, type = 'entry'): Promise<Ledger> {
  const ledger = await reopen(t, path, { durability: 'normal', checkpoint: { origin: ORIGIN, secretKey: LOG.signerKey } });
  await grow(ledger, events, type);
  return ledger;
}

async function grow(ledger: Ledger, events: number, type = 'entry'): Promise<void> {
  if (events > 0) await ledger.appendBatch(Array.from({ length: events }, (_, i) => ({ type, payload: { i } })));
}

/** The witness's raw answer to a body. */
async function post(witness: WitnessServer, body: string): Promise<{ status: number; type: string | null; body: string }> {
  const response = await fetch(`${witness.url}/add-checkpoint`, { method: 'POST', body });
  return { status: response.status, type: response.headers.get('content-type'), body: await response.text() };
}

/** Asserts `promise` rejects with a LedgerError of `code` whose details include `details`. */
async function rejectsWith(promise: Promise<unknown>, code: string, details: Record<string, unknown>): Promise<LedgerError> {
  const error = await promise.then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof LedgerError, String(error));
  assert.equal(error.code, code, error.message);
  for (const [key, value] of Object.entries(details)) assert.deepEqual(error.details[key], value, `details.${key}`);
  return error;
}

/** The statuses of the refused log-signed requests a state file keeps, in order. */
function evidence(state: string): number[] {
  const db = new Database(state, { readonly: true });
  try {
    return db.prepare('SELECT status FROM witness_evidence WHERE origin = ? ORDER BY id').pluck().all(ORIGIN) as number[];
  } finally {
    db.close();
  }
}

const sizeOf = (checkpoint: string) => parseCheckpoint(parseNote(checkpoint).text).size;

describe('add-checkpoint', () => {
  test('the first checkpoint is cosigned from old size 0; the cosignature verifies with the witness key, and in a proof bundle', async (t) => {
    const dir = tempDir(t);
    const witness = await startWitness(t, join(dir, 'witness.db'));
    const ledger = await logWith(t, join(dir, 'ledger.db'), 5);
    const checkpoint = ledger.checkpoint();
    const cosigned = await requestCosignature(witness.url, { checkpoint, witnessKey: witness.verifierKey });
    assert.equal(witness.verifierKey, WITNESS.verifierKey);
    assert.equal(cosigned.size, 5);
    assert.equal(cosigned.signatures.length, 1);
    assert.match(cosigned.signatures[0]!, /^— witness\.example\/w1 [A-Za-z0-9+/]+=*\n$/);
    assert.equal(cosigned.cosignedCheckpoint, `${checkpoint}${cosigned.signatures[0]}`);
    // The spec's client check: the answer appended to the checkpoint, verified with the witness key.
    const note = verifyNote(`${checkpoint}${cosigned.signatures[0]}`, [cosignatureVerifier(WITNESS.verifierKey)]);
    assert.equal(note.verified.length, 1);
    const policy = verifyCosignedCheckpoint(cosigned.cosignedCheckpoint, { logKey: LOG.verifierKey, witnesses: [WITNESS.verifierKey] });
    assert.equal(policy.cosignatures[0]!.name, 'witness.example/w1');
    assert.ok(Math.abs(policy.cosignatures[0]!.timestamp - Date.now() / 1000) < 60);
    const bundle = ledger.proofBundle(3, { checkpoint: cosigned.cosignedCheckpoint });
    const verdict = verifyProofBundle(bundle, { leaf: eventLeaf(ledger.get(3)!.contentHash), logKey: LOG.verifierKey, witnessKeys: [WITNESS.verifierKey], quorum: 1 });
    assert.equal(verdict.ok, true);
    assert.deepEqual({ size: witness.recorded(ORIGIN)?.size, checkpoint: witness.recorded(ORIGIN)?.checkpoint }, { size: 5, checkpoint });
  });

  test('the next checkpoint is cosigned with the consistency proof from the recorded size; the same tree again too', async (t) => {
    const dir = tempDir(t);
    const witness = await startWitness(t, join(dir, 'witness.db'));
    const ledger = await logWith(t, join(dir, 'ledger.db'), 3);
    await requestCosignature(witness.url, { checkpoint: ledger.checkpoint() });
    await grow(ledger, 6);
    const next = await requestCosignature(witness.url, { checkpoint: ledger.checkpoint(), oldSize: 3, consistencyProof: ledger.consistencyProof(3), witnessKey: WITNESS.verifierKey });
    assert.equal(next.size, 9);
    assert.equal(witness.recorded(ORIGIN)?.size, 9);
    const again = await requestCosignature(witness.url, { checkpoint: next.cosignedCheckpoint, oldSize: 9, witnessKey: WITNESS.verifierKey });
    // The newer cosignature replaces the one the checkpoint carried: one line per witness key.
    assert.equal(parseNote(again.cosignedCheckpoint).signatures.length, 2);
    verifyCosignedCheckpoint(again.cosignedCheckpoint, { logKey: LOG.verifierKey, witnesses: [WITNESS.verifierKey] });
  });

  test('a stale old size is 409 with the recorded size (text/x.tlog.size), and cosignWithWitness retries from it', async (t) => {
    const dir = tempDir(t);
    const witness = await startWitness(t, join(dir, 'witness.db'));
    const ledger = await logWith(t, join(dir, 'ledger.db'), 7);
    await requestCosignature(witness.url, { checkpoint: ledger.checkpoint() });
    await grow(ledger, 4);
    const checkpoint = ledger.checkpoint();
    const raw = await post(witness, formatAddCheckpointRequest({ oldSize: 0, consistencyProof: [], checkpoint }));
    assert.deepEqual(raw, { status: 409, type: 'text/x.tlog.size', body: '7\n' });
    await rejectsWith(requestCosignature(witness.url, { checkpoint, oldSize: 3, consistencyProof: ledger.consistencyProof(3) }), 'WITNESS_REFUSED', { status: 409, recordedSize: 7, oldSize: 3, size: 11 });
    const looped = await cosignWithWitness(ledger, witness.url, { witnessKey: WITNESS.verifierKey });
    assert.equal(looped.size, 11);
    assert.equal(witness.recorded(ORIGIN)?.size, 11);
  });

  test('a corrupted consistency proof is 422 (WITNESS_REFUSED), and the state stays', async (t) => {
    const dir = tempDir(t);
    const witness = await startWitness(t, join(dir, 'witness.db'));
    const ledger = await logWith(t, join(dir, 'ledger.db'), 6);
    await requestCosignature(witness.url, { checkpoint: ledger.checkpoint() });
    await grow(ledger, 5);
    const proof = ledger.consistencyProof(6);
    const flipped = proof.map((hash) => Uint8Array.from(hash));
    flipped[1]![7]! ^= 0x40;
    await rejectsWith(requestCosignature(witness.url, { checkpoint: ledger.checkpoint(), oldSize: 6, consistencyProof: flipped }), 'WITNESS_REFUSED', { status: 422 });
    await rejectsWith(requestCosignature(witness.url, { checkpoint: ledger.checkpoint(), oldSize: 6, consistencyProof: proof.slice(1) }), 'WITNESS_REFUSED', { status: 422 });
    await rejectsWith(requestCosignature(witness.url, { checkpoint: ledger.checkpoint(), oldSize: 6 }), 'WITNESS_REFUSED', { status: 422 });
    assert.equal(witness.recorded(ORIGIN)?.size, 6);
    // The log signed those checkpoints: the witness keeps the refused requests as evidence.
    await witness.close();
    assert.deepEqual(evidence(join(dir, 'witness.db')), [422, 422, 422]);
  });

  test('a checkpoint without a valid signature by the log key is 403; an unknown origin is 404; a bad body is 400', async (t) => {
    const dir = tempDir(t);
    const witness = await startWitness(t, join(dir, 'witness.db'));
    const ledger = await logWith(t, join(dir, 'ledger.db'), 2);
    const text = parseNote(ledger.checkpoint()).text;
    const impostor = signCheckpoint(parseCheckpoint(text), IMPOSTOR.signerKey);
    await rejectsWith(requestCosignature(witness.url, { checkpoint: impostor }), 'WITNESS_REFUSED', { status: 403 });
    // The log's own key name and ID over another signature: a forged line, not an unknown key.
    const genuine = ledger.checkpoint();
    const forged = genuine.replace(/ ([A-Za-z0-9+/]{8})([A-Za-z0-9+/])/, (_, id: string, c: string) => ` ${id}${c === 'A' ? 'B' : 'A'}`);
    assert.notEqual(forged, genuine);
    await rejectsWith(requestCosignature(witness.url, { checkpoint: forged }), 'WITNESS_REFUSED', { status: 403 });
    // Only a cosignature, no log signature: nothing by a trusted key is present.
    const onlyCosigned = `${text}\n${(await requestCosignature(witness.url, { checkpoint: genuine })).signatures[0]}`;
    assert.equal((await post(witness, formatAddCheckpointRequest({ oldSize: 2, consistencyProof: [], checkpoint: onlyCosigned }))).status, 403);

    const other = signCheckpoint({ origin: 'example.com/stele/other', size: 2, rootHash: parseCheckpoint(text).rootHash }, OTHER.signerKey);
    await rejectsWith(requestCosignature(witness.url, { checkpoint: other }), 'WITNESS_REFUSED', { status: 404 });

    for (const body of ['', 'old 0\n', 'old 01\n\n' + genuine, 'old 0\nnot-base64\n\n' + genuine, `old 0\n\n${text}`, `old 3\n\n${genuine}`]) {
      assert.equal((await post(witness, body)).status, 400, JSON.stringify(body.slice(0, 20)));
    }
    const wrongPath = await fetch(`${witness.url}/add-checkpoints`, { method: 'POST', body: '' });
    assert.equal(wrongPath.status, 404);
    assert.equal((await fetch(`${witness.url}/add-checkpoint`)).status, 405);
    assert.equal(witness.recorded(ORIGIN)?.size, 2);
  });

  test('concurrent requests from one size: exactly one advances the witness, the others get 409 with its size', async (t) => {
    const dir = tempDir(t);
    const witness = await startWitness(t, join(dir, 'witness.db'));
    const ledger = await logWith(t, join(dir, 'ledger.db'), 4);
    await requestCosignature(witness.url, { checkpoint: ledger.checkpoint() });
    const checkpoints: string[] = [];
    for (let i = 0; i < 4; i++) {
      await grow(ledger, 1 + i);
      checkpoints.push(ledger.checkpoint());
    }
    const outcomes = await Promise.allSettled(
      checkpoints.map((checkpoint) => requestCosignature(witness.url, { checkpoint, oldSize: 4, consistencyProof: ledger.consistencyProof(4, sizeOf(checkpoint)) })),
    );
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    assert.equal(won.length, 1);
    const size = (won[0] as PromiseFulfilledResult<{ size: number }>).value.size;
    assert.equal(witness.recorded(ORIGIN)?.size, size);
    for (const o of outcomes.filter((o) => o.status === 'rejected')) {
      const error = (o as PromiseRejectedResult).reason as LedgerError;
      assert.deepEqual([error.code, error.details.status, error.details.recordedSize], ['WITNESS_REFUSED', 409, size]);
    }
  });

  test('no usable answer (another key\'s lines, no server, a 500, silence) is WITNESS_FAILED; the caller\'s abort rejects with its reason', async (t) => {
    const dir = tempDir(t);
    const witness = await startWitness(t, join(dir, 'witness.db'));
    const ledger = await logWith(t, join(dir, 'ledger.db'), 1);
    const other = generateKeyPair('witness.example/w2', { type: SIGNATURE_TYPE_COSIGNATURE_V1 });
    await rejectsWith(requestCosignature(witness.url, { checkpoint: ledger.checkpoint(), witnessKey: other.verifierKey }), 'WITNESS_FAILED', { status: 200, reason: 'no cosignature by the witness key' });
    const url = witness.url;
    await witness.close();
    await rejectsWith(requestCosignature(url, { checkpoint: ledger.checkpoint(), oldSize: 1 }), 'WITNESS_FAILED', { oldSize: 1 });

    // A server that answers 500, or not at all.
    const stub = createServer((request, response) => {
      if (request.url === '/busy/add-checkpoint') return void response.writeHead(500).end('disk full');
    });
    await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => (stub.closeAllConnections(), stub.close(() => resolve()))));
    const base = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
    await rejectsWith(requestCosignature(`${base}/busy/`, { checkpoint: ledger.checkpoint() }), 'WITNESS_FAILED', { status: 500, reason: 'disk full' });
    await rejectsWith(requestCosignature(`${base}/silent`, { checkpoint: ledger.checkpoint(), timeoutMs: 200 }), 'WITNESS_FAILED', { reason: 'no answer within 200 ms' });
    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error('caller stopped')), 50);
    await assert.rejects(requestCosignature(`${base}/silent`, { checkpoint: ledger.checkpoint(), signal: stop.signal }), { message: 'caller stopped' });
  });
});

describe('the witness state', () => {
  test('survives a restart: the recorded size is kept, and a rollback to a smaller tree is refused', async (t) => {
    const dir = tempDir(t);
    const state = join(dir, 'witness.db');
    const ledger = await logWith(t, join(dir, 'ledger.db'), 4);
    const small = ledger.checkpoint();
    let witness = await startWitness(t, state);
    await requestCosignature(witness.url, { checkpoint: small });
    await grow(ledger, 8);
    await requestCosignature(witness.url, { checkpoint: ledger.checkpoint(), oldSize: 4, consistencyProof: ledger.consistencyProof(4) });
    await witness.close();

    witness = await startWitness(t, state);
    assert.equal(witness.recorded(ORIGIN)?.size, 12);
    await rejectsWith(requestCosignature(witness.url, { checkpoint: small }), 'WITNESS_REFUSED', { status: 409, recordedSize: 12 });
    await rejectsWith(requestCosignature(witness.url, { checkpoint: small, oldSize: 4 }), 'WITNESS_REFUSED', { status: 409, recordedSize: 12 });
    assert.equal((await post(witness, formatAddCheckpointRequest({ oldSize: 12, consistencyProof: [], checkpoint: small }))).status, 400);
    // A fork of the same size (another file signed by the same key): 409, without a size to retry from.
    const fork = await logWith(t, join(dir, 'fork.db'), 12, 'forked');
    await rejectsWith(requestCosignature(witness.url, { checkpoint: fork.checkpoint(), oldSize: 12 }), 'WITNESS_REFUSED', { status: 409, recordedSize: undefined });
    await assert.rejects(cosignWithWitness(fork, witness.url), (e: LedgerError) => e.code === 'WITNESS_REFUSED' && e.details.status === 409);
    assert.equal(witness.recorded(ORIGIN)?.size, 12);
    await witness.close();
    assert.deepEqual(evidence(state), [409, 409]);
  });

  test('SQLite itself refuses to shrink, rewrite or forget a recorded tree; a file that is not a state file is refused', async (t) => {
    const dir = tempDir(t);
    const state = join(dir, 'witness.db');
    const ledger = await logWith(t, join(dir, 'ledger.db'), 3);
    const witness = await startWitness(t, state);
    await requestCosignature(witness.url, { checkpoint: ledger.checkpoint() });
    await witness.close();
    const db = new Database(state);
    try {
      assert.throws(() => db.prepare('UPDATE witness_logs SET size = 2').run(), /STELE:WITNESS_ROLLBACK/);
      assert.throws(() => db.prepare('UPDATE witness_logs SET root_hash = zeroblob(32)').run(), /STELE:WITNESS_ROLLBACK/);
      assert.throws(() => db.prepare('DELETE FROM witness_logs').run(), /STELE:WITNESS_ROLLBACK/);
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      db.close();
    }
    const other = join(dir, 'other.db');
    const otherDb = new Database(other);
    otherDb.exec('CREATE TABLE notes (text TEXT)');
    otherDb.close();
    await assert.rejects(serveWitness({ state: other, secretKey: WITNESS.signerKey, logs: [{ origin: ORIGIN, verifierKey: LOG.verifierKey }] }), { name: 'TypeError', message: /is a SQLite file but not a witness state file/ });
    // A ledger file (its schema version in user_version, no witness application_id).
    await assert.rejects(serveWitness({ state: join(dir, 'ledger.db'), secretKey: WITNESS.signerKey, logs: [{ origin: ORIGIN, verifierKey: LOG.verifierKey }] }), { name: 'TypeError', message: /is not a witness state file/ });
    await assert.rejects(serveWitness({ state, secretKey: LOG.signerKey, logs: [{ origin: ORIGIN, verifierKey: LOG.verifierKey }] }), { name: 'TypeError', message: /type 0x04/ });
    await assert.rejects(serveWitness({ state, secretKey: WITNESS.signerKey, logs: [{ origin: ORIGIN, verifierKey: WITNESS.verifierKey }] }), { name: 'TypeError', message: /noteVerifier takes Ed25519/ });
    await assert.rejects(serveWitness({ state, secretKey: WITNESS.signerKey, log: [] } as never), { name: 'TypeError', message: 'Misspelled option "log" should be "logs"' });
  });
});

describe('stele witness', () => {
  test('keygen writes a key, serve cosigns with it until SIGTERM', async (t) => {
    const dir = tempDir(t);
    const keyFile = join(dir, 'witness.key');
    const keygen = runChild(t, SOURCE_CLI, ['witness', 'keygen', '--name', 'witness.example/cli', '--key-file', keyFile, '--json']);
    const key = (await keygen.next()) as { name: string; verifierKey: string; keyFile: string };
    assert.deepEqual((await keygen.exited).code, 0);
    assert.deepEqual({ name: key.name, keyFile: key.keyFile }, { name: 'witness.example/cli', keyFile });
    const again = runChild(t, SOURCE_CLI, ['witness', 'keygen', '--name', 'witness.example/cli', '--key-file', keyFile], { stderr: 'pipe' });
    assert.equal((await again.exited).code, 1);
    assert.match(again.stderr(), /^stele: FILE_EXISTS: /);

    const ledger = await logWith(t, join(dir, 'ledger.db'), 3);
    const serve = runChild(t, SOURCE_CLI, ['witness', 'serve', '--state', join(dir, 'state.db'), '--key-file', keyFile, '--log', LOG.verifierKey, '--listen', '127.0.0.1:0', '--json']);
    const started = (await serve.next()) as { url: string; name: string; verifierKey: string; logs: string[] };
    assert.deepEqual({ ...started, url: undefined }, { url: undefined, name: 'witness.example/cli', verifierKey: key.verifierKey, logs: [ORIGIN] });
    const cosigned = await cosignWithWitness(ledger, started.url, { witnessKey: key.verifierKey });
    verifyCosignedCheckpoint(cosigned.cosignedCheckpoint, { logKey: LOG.verifierKey, witnesses: [key.verifierKey] });
    assert.deepEqual(await serve.next(), { status: 200, origin: ORIGIN, size: 3 });
    serve.process.kill('SIGTERM');
    assert.deepEqual(await serve.exited, { code: 0, signal: null });
  });

  test('usage errors name the problem', async (t) => {
    const dir = tempDir(t);
    const keyFile = join(dir, 'log.key');
    writeFileSync(keyFile, LOG.signerKey);
    const run = runChild(t, SOURCE_CLI, ['witness', 'serve', '--state', join(dir, 's.db'), '--key-file', keyFile, '--log', LOG.verifierKey, '--listen', '127.0.0.1:0'], { stderr: 'pipe' });
    assert.equal((await run.exited).code, 2);
    assert.match(run.stderr(), /^stele: USAGE: secretKey must be a witness \(cosignature\/v1, type 0x04\) skey/);
    const missing = runChild(t, SOURCE_CLI, ['witness', 'serve', '--state', join(dir, 's.db')], { stderr: 'pipe' });
    assert.equal((await missing.exited).code, 2);
    assert.match(missing.stderr(), /^stele: USAGE: --key-file FILE is needed/);
  });
});
