/**
 * Backpressure, in one owner: how many events are queued or awaiting their outcome, and who
 * waits for room. A caller takes room in its own tick; past `maxPendingAppends` it waits in a
 * FIFO holding only what it was given (or is refused with BACKPRESSURE, by option), so even a
 * million calls made in one loop stay small.
 * @internal
 */
import { LedgerError } from '../errors.ts';
import { Fifo } from './fifo.ts';

export interface BackpressureSettings {
  /** Most events queued or in flight at once. */
  maxPendingAppends: number;
  /** Past the limit: wait for room, or reject with BACKPRESSURE. */
  onFull: 'wait' | 'reject';
}

/** A caller waiting for room for `size` events. */
export interface Waiter {
  readonly size: number;
  /** true: room was taken for it; false: released without room (the writer failed or closes). */
  wake(admitted: boolean): void;
}

export class Admission {
  readonly #limits: BackpressureSettings;
  #pending = 0;
  readonly #waiters = new Fifo<Waiter>();

  constructor(limits: BackpressureSettings) {
    this.#limits = limits;
  }

  /** Events admitted and not yet released. */
  get pending(): number {
    return this.#pending;
  }

  /** Callers waiting for room. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /**
   * Takes room for `size` events now (true), or not (false: then {@link park} the caller). With
   * onFull 'reject' a full ledger throws BACKPRESSURE instead.
   */
  tryAdmit(size: number): boolean {
    if (this.#hasRoom(size)) {
      this.#pending += size;
      return true;
    }
    if (this.#limits.onFull === 'reject') {
      throw LedgerError.of('BACKPRESSURE', { pending: this.#pending, limit: this.#limits.maxPendingAppends });
    }
    return false;
  }

  /**
   * Queues a caller that {@link tryAdmit} turned away: `waiter.wake(true)` once room was taken for
   * it, `wake(false)` when the waiters are released without room. An object, not a promise: a
   * parked caller then costs its own promise and this entry, which is what a million add up to.
   */
  park(waiter: Waiter): void {
    this.#waiters.push(waiter);
  }

  /** Gives back room, and admits the waiters that now fit, oldest first. */
  release(size: number): void {
    this.#pending -= size;
    for (let next = this.#waiters.peek(); next && this.#fits(next.size); next = this.#waiters.peek()) {
      this.#waiters.shift();
      // Taken now, so that callers woken in the same tick cannot all take the same room.
      this.#pending += next.size;
      next.wake(true);
    }
  }

  /**
   * After requests were rejected wholesale: gives back their `size` events, and releases every
   * waiter without room. Room taken by callers that have not submitted yet stays theirs to give back.
   */
  releaseAll(size: number): void {
    this.#pending -= size;
    for (const waiter of this.#waiters.drain()) waiter.wake(false);
  }

  /** Waiters go first: a newcomer never overtakes one. */
  #hasRoom(size: number): boolean {
    return this.#waiters.size === 0 && this.#fits(size);
  }

  /** A request larger than the whole limit still goes through, alone, when nothing else is pending. */
  #fits(size: number): boolean {
    return this.#pending === 0 || this.#pending + size <= this.#limits.maxPendingAppends;
  }
}
