/**
 * Signing for browsers and edge runtimes: the signing helpers of the main entry, from an entry
 * that loads no `node:` module, no better-sqlite3 and no worker. An agent (a browser app, a
 * Cloudflare Worker, a Deno script) signs its events where its key lives and sends them to the
 * service that appends them; the ledger's trigger verifies them like any other signature. The
 * bytes and signatures are exactly those of the main entry (see native-sql/FORMAT.md, "Signable
 * bytes").
 *
 * Needs only `crypto.getRandomValues` (for `generateAgentKeyPair` and the event ids `signEvent`
 * fills in) and `URL`, which every browser, edge runtime and Node >= 19 has.
 *
 * @example
 * ```ts
 * import { generateAgentKeyPair, signEvent } from 'stele/signing';
 *
 * const keys = generateAgentKeyPair(); // register keys.publicKey on the server: ledger.registerAgentKey('kiosk-7', keys.publicKey)
 * const signed = signEvent({ type: 'badge_scanned', streamId: 'door-3', payload: { badge: 'b-19' } }, 'kiosk-7', keys.secretKey);
 * // The server appends it as signed: the same values, localTimestamp a Date again.
 * await fetch('/events', { method: 'POST', body: JSON.stringify({ ...signed, localTimestamp: signed.localTimestamp!.getTime() }) });
 * ```
 * @module stele/signing
 */
export {
  generateAgentKeyPair,
  signableBytes,
  signEvent,
  witnessClearHalt,
  clearHaltSignableBytes,
  witnessPromotion,
  promoteReplicaSignableBytes,
} from './format/signing.ts';
export type { AgentKeyPair, WitnessSignature, PromotionSubject } from './format/signing.ts';
export type { AppendInput, ExpectedVersion } from './event.ts';
export { LedgerError, isLedgerError } from './errors.ts';
export type { LedgerErrorCode } from './errors.ts';
