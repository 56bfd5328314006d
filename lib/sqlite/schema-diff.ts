/**
 * The schema difference verification reports, on its own so that the public declarations reach
 * it without reaching better-sqlite3 (which schema-pin.ts opens).
 * @internal
 */

/**
 * How a live schema differs from the expected one: object names, each list sorted.
 *
 * @example
 * ```ts
 * const { firstBad } = await verifyLedgerFile('audit.db');
 * if (firstBad?.reason === 'schema') console.error('dropped:', firstBad.schema?.missing, 'added:', firstBad.schema?.added);
 * ```
 */
export interface SchemaDiff {
  /** In the file, not in the shipped schema. */
  added: string[];
  /** In the shipped schema, not in the file. */
  missing: string[];
  /** In both, with another type, table or SQL. */
  changed: string[];
}
