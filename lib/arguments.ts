/**
 * The checks every entry point shares, decided once: a value of the wrong type is a TypeError,
 * a value of the right type out of range is a RangeError, and each message names the argument
 * and the fix. Bad values are written with {@link describeValue}, never stringified.
 * @internal
 */
import { describeValue } from './errors.ts';
import { isValidPublicKey } from './format/ed25519.ts';
import { parseVerifierKey } from './proofs/note-key.ts';

/** An integer in [min, max]. */
export function requireInteger(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const wanted = max !== Number.MAX_SAFE_INTEGER ? `an integer from ${min} to ${max}` : min === 1 ? 'a positive integer' : `an integer >= ${min}`;
  if (typeof value !== 'number') throw new TypeError(`${name} must be ${wanted}, got ${describeValue(value)}`);
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new RangeError(`${name} must be ${wanted}, got ${describeValue(value)}`);
  return value;
}

/** A finite number >= min. */
export function requireNumber(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number >= ${min}, got ${describeValue(value)}`);
  if (!Number.isFinite(value) || value < min) throw new RangeError(`${name} must be a number >= ${min}, got ${describeValue(value)}`);
  return value;
}

/** A non-empty string of at most `maxLength` characters. */
export function requireText(name: string, value: unknown, maxLength = 256): string {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a non-empty string of at most ${maxLength} characters, got ${describeValue(value)}`);
  if (value.length === 0 || value.length > maxLength) {
    throw new RangeError(`${name} must be a non-empty string of at most ${maxLength} characters, got one of ${value.length}`);
  }
  // SQLite stores a lone surrogate as U+FFFD: the derived key tables would no longer match the chain.
  if (!value.isWellFormed()) throw new RangeError(`${name} contains a lone UTF-16 surrogate`);
  return value;
}

/** Any string (an id to look up: the empty one simply matches nothing). */
export function requireString(name: string, value: unknown): string {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string, got ${describeValue(value)}`);
  return value;
}

export function requireBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${describeValue(value)}`);
  return value;
}

export function requireFunction<T extends (...args: never[]) => unknown>(name: string, value: unknown): T {
  if (typeof value !== 'function') throw new TypeError(`${name} must be a function, got ${describeValue(value)}`);
  return value as T;
}

/** An `AbortSignal` (anything with `aborted`, `reason` and the listener methods, as Node's own checks allow). */
export function requireAbortSignal(name: string, value: unknown): AbortSignal {
  const signal = value as AbortSignal | null;
  if (
    typeof signal !== 'object' || signal === null || typeof signal.aborted !== 'boolean' ||
    typeof signal.addEventListener !== 'function' || typeof signal.removeEventListener !== 'function'
  ) {
    throw new TypeError(`${name} must be an AbortSignal, got ${describeValue(value)}`);
  }
  return signal;
}

/** One of a fixed set of strings. */
export function requireOneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  const list = allowed.map((a) => `'${a}'`).join(', ');
  if (typeof value !== 'string') throw new TypeError(`${name} must be one of ${list}, got ${describeValue(value)}`);
  if (!allowed.includes(value as T)) throw new RangeError(`${name} must be one of ${list}, got ${describeValue(value)}`);
  return value as T;
}

/** A file path SQLite will open as given: SQLite would cut a path at a NUL and open another file. */
export function requireFilePath(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw new TypeError(`${name} must be a file path, got ${describeValue(value)}`);
  if (value.includes('\0')) throw new TypeError(`${name} contains a NUL character`);
  // SQLite and Node's fs would write a lone surrogate as different bytes: two names for one path.
  if (!value.isWellFormed()) throw new TypeError(`${name} contains a lone UTF-16 surrogate`);
  return value;
}

/** An options object (not null, not an array); `undefined` is the empty one. */
export function requireOptions<T extends object>(name: string, value: T | undefined): T | Record<string, never> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TypeError(`${name} must be an object, got ${describeValue(value)}`);
  return value;
}

/**
 * Refuses keys that are not options (of `what`, when named), suggesting the known name a key
 * misspells (by case, or else by at most two edits: `durabilty`, `stream` for `streamId`), else
 * listing every known name. The one place that decides the hint.
 */
export function requireKnownKeys(options: object, known: readonly string[], what?: string): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const near = nearestName(key, known);
    const unknown = `Unknown ${what ? `${what} ` : ''}option "${key}"; known options: ${known.join(', ')}`;
    throw new TypeError(near ? `Misspelled option "${key}" should be "${near}"` : unknown);
  }
}

/** The known name `key` differs from only by case, else the nearest within two edits (first on a tie), else undefined. */
export function nearestName(key: string, known: readonly string[]): string | undefined {
  const byCase = known.find((name) => name.toLowerCase() === key.toLowerCase());
  if (byCase !== undefined || key.length < 3) return byCase;
  let best: string | undefined;
  let bestDistance = 3;
  for (const name of known) {
    const distance = editDistance(key.toLowerCase(), name.toLowerCase(), bestDistance);
    if (distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance with adjacent transpositions counted as one edit; `limit` or more once it is certain to reach it. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) >= limit) return limit;
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, before[j - 2]! + 1);
      current.push(value);
      rowMin = Math.min(rowMin, value);
    }
    if (rowMin >= limit) return limit;
    before = previous;
    previous = current;
  }
  return Math.min(previous[b.length]!, limit);
}

/** The most keys a `trustedWitnesses` list holds. */
const MAX_TRUSTED_KEYS = 1_000;

/** An array of at most 1,000 Ed25519 public keys, each its canonical base64 text (FORMAT.md "Ed25519 rules"). */
export function requirePublicKeys(name: string, value: unknown): string[] {
  if (!Array.isArray(value)) throw new TypeError(`${name} must be an array of base64 Ed25519 public keys, got ${describeValue(value)}`);
  if (value.length > MAX_TRUSTED_KEYS) throw new RangeError(`${name}: at most ${MAX_TRUSTED_KEYS} keys, got ${value.length}`);
  const keys: string[] = [];
  for (let i = 0; i < value.length; i++) {
    const key: unknown = value[i];
    if (typeof key !== 'string') throw new TypeError(`${name}[${i}] must be a base64 Ed25519 public key, got ${describeValue(key)}`);
    if (!isValidPublicKey(key)) throw new RangeError(`${name}[${i}] is not a valid Ed25519 public key (canonical base64 of a point on the curve, not of small order)`);
    keys.push(key);
  }
  return keys;
}

/**
 * A list of event types to filter by: an array of at least one non-empty string, every index
 * checked (holes included; a length set to 2^32 - 1 is walked only until its first hole). Returns
 * it as JSON for `json_each`. `omitted` says what leaving it out does.
 */
export function requireTypeList(value: unknown, omitted: string): string {
  if (!Array.isArray(value)) throw new TypeError(`types must be an array of non-empty strings, got ${describeValue(value)}`);
  for (let index = 0; index < value.length; index++) {
    const type: unknown = value[index];
    if (typeof type !== 'string' || type.length === 0) throw new TypeError(`types[${index}] must be a non-empty string, got ${describeValue(type)}`);
  }
  if (value.length === 0) throw new RangeError(`types must list at least one type; omit it to ${omitted}`);
  return JSON.stringify(value);
}

/** A C2SP verifier key (vkey) of an Ed25519 signed-note key: `<name>+<hex key ID>+<base64>`. */
export function requireVerifierKey(name: string, key: unknown): string {
  try {
    if (typeof key !== 'string') throw new TypeError(`got ${typeof key}`);
    parseVerifierKey(key);
    return key;
  } catch (error) {
    throw new TypeError(`${name} must be a C2SP verifier key (vkey), <name>+<hex key ID>+<base64>: ${(error as Error).message}`);
  }
}

