/**
 * Spec helper: a value as a comparison sees it. Typed arrays and ArrayBuffers become their kind
 * and bytes, so that assert.deepStrictEqual (which compares float arrays with ===, NaN unequal and
 * -0 equal to 0) checks them exactly. Objects keep their prototype for deepStrictEqual to compare,
 * or with `plainObjects` become plain objects (a null-prototype object reads back as an ordinary one).
 */
export function comparable(value: unknown, options: { plainObjects?: boolean } = {}): unknown {
  const recurse = (inner: unknown) => comparable(inner, options);
  if (ArrayBuffer.isView(value)) {
    return { kind: Object.getPrototypeOf(value).constructor.name, bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex') };
  }
  if (value instanceof ArrayBuffer) return { kind: 'ArrayBuffer', bytes: Buffer.from(value).toString('hex') };
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [recurse(k), recurse(v)]));
  if (value instanceof Set) return new Set([...value].map(recurse));
  if (Array.isArray(value)) return value.map(recurse);
  if (typeof value === 'object' && value !== null && !(value instanceof Date)) {
    const copy = Object.create(options.plainObjects ? Object.prototype : Object.getPrototypeOf(value)) as Record<string, unknown>;
    for (const key of Object.keys(value)) {
      // defineProperty: assigning a `__proto__` key would set the copy's prototype instead.
      Object.defineProperty(copy, key, { value: recurse((value as Record<string, unknown>)[key]), enumerable: true, writable: true, configurable: true });
    }
    return copy;
  }
  return value;
}
