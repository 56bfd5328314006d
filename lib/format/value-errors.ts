/**
 * What the value codec throws; event encoding and decoding turn each into a coded LedgerError.
 * @internal
 */

/** Thrown by `encodeValue`: `reason` and `path` say what could not be stored and where. */
export class UnencodableValueError extends Error {
  constructor(
    readonly reason: string,
    readonly path: string,
  ) {
    super(`${reason} at ${path}`);
  }
}

/**
 * Thrown by `encodeValue` when a value cannot fit in the byte budget whatever its
 * contents: an array of length n takes at least 2n + 1 bytes of JSON, holes included. Checked
 * before walking, so an array whose length is far beyond its contents is refused at once.
 */
export class ValueTooLargeError extends Error {
  constructor(
    readonly minBytes: number,
    readonly path: string,
  ) {
    super(`at least ${minBytes} bytes at ${path}`);
  }
}

/** Thrown by `decodeValue` for stored text that no Stele wrote (a foreign tool, a damaged row). */
export class UndecodableValueError extends Error {}
