/**
 * The workload of the concurrency properties: requests (one append or a batch) into a few
 * streams, some of them made to fail in a known way, issued concurrently by the caller.
 * A `duplicate_id` request reuses the id of an event `'anchor'` the property appends first.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { AppendInput, AppendResult, Ledger, LedgerError, LedgerErrorCode } from '../../lib/index.ts';

export type Failure = 'none' | 'wrong_version' | 'too_large' | 'duplicate_id' | 'duplicate_in_batch';

export interface Op {
  batch: number; // 0 = single append, otherwise batch size
  stream: string;
  failure: Failure;
}

const EXPECTED_CODE: Record<Exclude<Failure, 'none'>, LedgerErrorCode> = {
  wrong_version: 'WRONG_EXPECTED_VERSION',
  too_large: 'EVENT_TOO_LARGE',
  duplicate_id: 'DUPLICATE_EVENT_ID',
  duplicate_in_batch: 'DUPLICATE_EVENT_ID',
};

/** Requests of up to `maxBatch` events; one in `okWeight + 1` fails with one of `failures`. */
export function opArbitrary(settings: { maxBatch: number; streams: string[]; failures: Exclude<Failure, 'none'>[]; okWeight: number }): fc.Arbitrary<Op> {
  return fc.record({
    batch: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: settings.maxBatch })),
    stream: fc.constantFrom(...settings.streams),
    failure: fc.oneof(
      { weight: settings.okWeight, arbitrary: fc.constant<Failure>('none') },
      { weight: 1, arbitrary: fc.constantFrom<Failure>(...settings.failures) },
    ),
  });
}

/**
 * The inputs of one request, with ids `<id>-<i>`. `tooLargeBytes` is the ledger's maxEventBytes,
 * needed only for `too_large`; `typeOf` names each event's type.
 */
export function inputsOf(o: Op, id: string, options: { typeOf?: (i: number) => string; tooLargeBytes?: number } = {}): AppendInput[] {
  const { typeOf = () => 'prop', tooLargeBytes } = options;
  const inputs: AppendInput[] = Array.from({ length: Math.max(1, o.batch) }, (_, i) => ({
    type: typeOf(i),
    streamId: o.stream,
    eventId: `${id}-${i}`,
    payload: { id, i },
  }));
  const first = inputs[0]!;
  const last = inputs.at(-1)!;
  switch (o.failure) {
    case 'wrong_version':
      last.expectedVersion = 1_000_000;
      break;
    case 'too_large':
      if (tooLargeBytes === undefined) throw new TypeError('too_large needs tooLargeBytes');
      last.payload = 'x'.repeat(tooLargeBytes);
      break;
    case 'duplicate_id':
      // The anchor's id with other content: the whole request fails.
      last.eventId = 'anchor';
      break;
    case 'duplicate_in_batch':
      inputs.push({ ...first, payload: 'copy' });
      break;
  }
  return inputs;
}

/** Issues a request as the caller would: `append` for a single event, `appendBatch` otherwise. */
export function issue(ledger: Ledger, o: Op, inputs: AppendInput[]): Promise<AppendResult[]> {
  return o.batch === 0 && inputs.length === 1 ? ledger.append(inputs[0]!).then((r) => [r]) : ledger.appendBatch(inputs);
}

/** The request succeeded when it was meant to, or failed with exactly the code its failure causes. */
export function assertOutcome(o: Op, outcome: PromiseSettledResult<AppendResult[]>): void {
  if (o.failure === 'none') {
    assert.equal(outcome.status, 'fulfilled', `op ${JSON.stringify(o)} failed: ${String((outcome as PromiseRejectedResult).reason)}`);
  } else {
    assert.equal(outcome.status, 'rejected', `op ${JSON.stringify(o)} should have failed`);
    assert.equal(((outcome as PromiseRejectedResult).reason as LedgerError).code, EXPECTED_CODE[o.failure]);
  }
}
