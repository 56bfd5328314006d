/**
 * The slice of [Standard Schema v1](https://standardschema.dev) that Stele uses, so that zod,
 * valibot, arktype and any other compliant validator work unchanged, without depending on them.
 */
import { LedgerError } from '../errors.ts';

/**
 * A Standard Schema v1 validator, e.g. a zod, valibot or arktype schema.
 *
 * @example
 * ```ts
 * const deposited: StandardSchemaV1 = z.object({ cents: z.bigint().positive() });
 * const ledger = await openLedger('audit.db', { eventTypes: { deposited, withdrawn: true } });
 * ```
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
    /** The input and output types, for inference only (never present at run time). */
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

/**
 * What a Standard Schema's `validate` returns: the value, or the issues found.
 *
 * @example
 * ```ts
 * const result = await schema['~standard'].validate(payload);
 * if (result.issues) console.log(result.issues.map((issue) => issue.message));
 * else console.log(result.value);
 * ```
 */
export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<StandardIssue> };

/**
 * One problem a Standard Schema found in a value.
 *
 * @example
 * ```ts
 * // In a hand-written validator's `validate`; Stele reports it with the path 'cents'.
 * const issue: StandardIssue = { message: 'must be a positive bigint', path: ['cents'] };
 * return { issues: [issue] };
 * ```
 */
export interface StandardIssue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
}

/**
 * One problem with a payload: where (dotted path, '' for the payload itself) and what.
 *
 * @example
 * ```ts
 * try {
 *   await ledger.append({ type: 'deposited', payload: { cents: -5n } });
 * } catch (err) {
 *   const issues = isLedgerError(err, 'INVALID_EVENT') ? (err.details.issues as PayloadIssue[] | undefined) : undefined;
 *   for (const { path, message } of issues ?? []) console.log(path || '(payload)', message);
 * }
 * ```
 */
export interface PayloadIssue {
  path: string;
  message: string;
}

export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  const standard = (value as { '~standard'?: { version?: unknown; validate?: unknown } } | null)?.['~standard'];
  return typeof standard === 'object' && standard !== null && standard.version === 1 && typeof standard.validate === 'function';
}

/**
 * Validates a payload with its type's schema. Throws INVALID_EVENT listing every issue with its
 * path, so a missing required field is named. Validators may be async; most are not, and then no
 * promise is created.
 */
export function validatePayload(schema: StandardSchemaV1, type: string, payload: unknown, index?: number): void | Promise<void> {
  const result = schema['~standard'].validate(payload);
  if (result instanceof Promise) return result.then((settled) => check(settled, type, index));
  check(result, type, index);
}

function check(result: StandardResult<unknown>, type: string, index: number | undefined): void {
  if (!result.issues) return;
  const issues: PayloadIssue[] = result.issues.map((issue) => ({
    path: (issue.path ?? []).map((segment) => String(typeof segment === 'object' ? segment.key : segment)).join('.'),
    message: issue.message,
  }));
  const summary = issues.map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message)).join('; ');
  throw LedgerError.of('INVALID_EVENT', { ...(index === undefined ? {} : { index }), field: 'payload', type, issues }, `payload of ${type}: ${summary}`);
}
