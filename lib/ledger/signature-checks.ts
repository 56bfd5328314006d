/**
 * Event signatures verified before their events reach the writer, on a pool of threads, so that
 * signed appends use every core instead of the writer's one. A signature that verifies under one
 * of the agent's active keys travels to the writer as a verdict (format/hash-bytes.ts
 * `signatureVerdict`); the trigger's function recomputes the verdict from the row it inserts and
 * the key the database holds, and only then skips its own verification. Anything else (an
 * unknown agent, a bad signature, a pool that failed) goes as before: the trigger verifies, and
 * refuses with its code. Nothing here decides whether an event is accepted.
 * @internal
 */
import { signatureVerdict } from '../format/hash-bytes.ts';
import type { EncodedEvent } from '../format/event-encoding.ts';
import { signedBytesOfEvent } from '../format/signing.ts';
import { poolThreads, threadPool } from '../runtime/thread-pool.ts';
import type { SignatureTask } from '../verify/signature-worker.ts';

/** Fewer signatures than this in one turn of the event loop are left to the trigger: a round trip to the pool would cost more. */
const MIN_POOLED = 4;
/** The pool of signature checkers. */
const signaturePool = threadPool<SignatureTask, number[]>('verify/signature-worker');

interface PendingCheck {
  event: EncodedEvent;
  keys: readonly string[];
}

export class SignatureChecks {
  readonly #keysOf: (agentId: string) => readonly string[];
  /** The checks of this turn of the event loop, sent together at its end. */
  #batch: PendingCheck[] = [];
  /** Settles once this turn's checks and every earlier turn's are decided: events leave in the order they came. */
  #tail: Promise<void> = Promise.resolve();
  #open: (() => void) | undefined;
  #batchesUnderway = 0;

  /** `keysOf`: the agent's active signing keys, as the database holds them now. */
  constructor(keysOf: (agentId: string) => readonly string[]) {
    this.#keysOf = keysOf;
  }

  /**
   * Verifies the signatures of `events` with the other checks of the same turn, attaching a
   * verdict to each that verifies. Resolves once they, and the checks of events made before
   * them, were decided; undefined when there is nothing to wait for.
   */
  attach(events: readonly EncodedEvent[]): Promise<void> | undefined {
    let signed = false;
    for (const event of events) {
      if (event.signature === null || event.agentId === null) continue;
      const keys = this.#keysOf(event.agentId);
      if (keys.length === 0) continue;
      this.#batch.push({ event, keys });
      signed = true;
    }
    if (signed && this.#open === undefined) this.#startBatch();
    // An unsigned event made after signed ones waits for them, so that it does not overtake them.
    return signed || this.#batchesUnderway > 0 ? this.#tail : undefined;
  }

  #startBatch(): void {
    const before = this.#tail;
    this.#batchesUnderway++;
    this.#tail = new Promise<void>((open) => (this.#open = open));
    setImmediate(() => {
      const checks = this.#batch;
      const open = this.#open!;
      this.#batch = [];
      this.#open = undefined;
      void Promise.all([before, this.#decide(checks)]).then(() => {
        this.#batchesUnderway--;
        open();
      });
    });
  }

  /** Attaches the verdicts of the pool; never rejects: the trigger verifies whatever the pool could not. */
  async #decide(checks: PendingCheck[]): Promise<void> {
    if (checks.length < MIN_POOLED) return;
    const size = Math.ceil(checks.length / poolThreads());
    const parts: Promise<void>[] = [];
    for (let start = 0; start < checks.length; start += size) {
      const part = checks.slice(start, start + size).map((check) => ({ ...check, signed: signedBytesOfEvent(check.event) }));
      const task: SignatureTask = { checks: part.map(({ event, keys, signed }) => ({ keys, signed, signature: event.signature! })) };
      parts.push(
        signaturePool()
          .run(task)
          .then((found) => {
            part.forEach((check, i) => {
              const key = check.keys[found[i] ?? -1];
              if (key !== undefined) check.event.signatureVerdict = signatureVerdict(key, check.event.signature!, check.signed);
            });
          })
          .catch(() => undefined),
      );
    }
    await Promise.all(parts);
  }
}
