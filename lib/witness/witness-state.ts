/**
 * A witness's memory: for each log origin, the size and root of the latest checkpoint it
 * cosigned, in a SQLite file of its own (not a ledger). What a witness promises (never two
 * inconsistent trees, never a smaller tree after a larger one) holds only as long as this file
 * does, across crashes and restarts: WAL with `synchronous = FULL`, so a committed advance
 * survives a power cut before the witness answers; and triggers that refuse a smaller size or a
 * deleted row from any connection, so a bug or a hand edit through SQLite cannot roll it back.
 * @internal
 */
import Database from 'better-sqlite3';

/** The version of this file's layout, in `PRAGMA user_version`. */
const STATE_VERSION = 1;

/** `PRAGMA application_id` of a witness state file ('StWi'), so a ledger or another file is never taken for one. */
const APPLICATION_ID = 0x53745769;

const SCHEMA = `
CREATE TABLE witness_logs (
  origin TEXT PRIMARY KEY,
  size INTEGER NOT NULL CHECK (size >= 0),
  root_hash BLOB NOT NULL CHECK (length(root_hash) = 32),
  -- The signed checkpoint last cosigned, as the log sent it: the evidence behind size and root.
  checkpoint TEXT NOT NULL,
  cosigned_at INTEGER NOT NULL
) STRICT;
CREATE TRIGGER witness_logs_never_shrink BEFORE UPDATE ON witness_logs
  WHEN NEW.size < OLD.size OR NEW.origin IS NOT OLD.origin OR (NEW.size = OLD.size AND NEW.root_hash IS NOT OLD.root_hash)
  BEGIN SELECT RAISE(ABORT, 'STELE:WITNESS_ROLLBACK: a witness never records a smaller or different tree than one it cosigned'); END;
CREATE TRIGGER witness_logs_never_forget BEFORE DELETE ON witness_logs
  BEGIN SELECT RAISE(ABORT, 'STELE:WITNESS_ROLLBACK: a witness never forgets a log it cosigned'); END;
-- Requests signed by the log that the witness refused for their tree (a proof that fails, another
-- root at a cosigned size): a log-signed checkpoint inconsistent with a cosigned one is evidence
-- that the log showed two histories.
CREATE TABLE witness_evidence (
  id INTEGER PRIMARY KEY,
  origin TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  status INTEGER NOT NULL,
  request TEXT NOT NULL
) STRICT;
`;

/** The most evidence rows kept per origin: only the log's key can make more, but the disk is the witness's. */
const MAX_EVIDENCE_PER_ORIGIN = 1000;

/** The latest checkpoint a witness cosigned for one origin. */
export interface WitnessRecord {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Uint8Array;
  /** The signed checkpoint, as the log sent it. */
  readonly checkpoint: string;
  /** When it was cosigned, POSIX seconds. */
  readonly cosignedAt: number;
}

/** The state file, opened read-write by one witness. */
export class WitnessState {
  readonly #db: Database.Database;
  readonly #get: Database.Statement<[string], { origin: string; size: number; root_hash: Buffer; checkpoint: string; cosigned_at: number }>;
  readonly #insert: Database.Statement<[string, number, Uint8Array, string, number]>;
  readonly #advance: Database.Statement<[number, Uint8Array, string, number, string, number, Uint8Array]>;
  readonly #keep: Database.Statement<[string, number, number, string, string, number]>;

  constructor(path: string) {
    this.#db = new Database(path);
    try {
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = FULL');
      // Another process on the same file (a second witness by mistake) waits, then meets the compare-and-swap.
      this.#db.pragma('busy_timeout = 5000');
      this.#prepareFile(path);
    } catch (error) {
      this.#db.close();
      throw error;
    }
    this.#get = this.#db.prepare('SELECT origin, size, root_hash, checkpoint, cosigned_at FROM witness_logs WHERE origin = ?');
    this.#insert = this.#db.prepare('INSERT INTO witness_logs (origin, size, root_hash, checkpoint, cosigned_at) VALUES (?, ?, ?, ?, ?)');
    this.#advance = this.#db.prepare(
      'UPDATE witness_logs SET size = ?, root_hash = ?, checkpoint = ?, cosigned_at = ? WHERE origin = ? AND size = ? AND root_hash = ?',
    );
    this.#keep = this.#db.prepare(
      'INSERT INTO witness_evidence (origin, received_at, status, request) SELECT ?, ?, ?, ? WHERE (SELECT count(*) FROM witness_evidence WHERE origin = ?) < ?',
    );
  }

  /** The latest cosigned checkpoint of `origin`, or undefined when the witness never cosigned one. */
  get(origin: string): WitnessRecord | undefined {
    const row = this.#get.get(origin);
    if (!row) return undefined;
    return Object.freeze({ origin: row.origin, size: row.size, rootHash: new Uint8Array(row.root_hash), checkpoint: row.checkpoint, cosignedAt: row.cosigned_at });
  }

  /**
   * Runs `decide` on the origin's current record and, when it returns the next record, stores it
   * in the same IMMEDIATE transaction: the read, the checks and the write are one atomic step,
   * so two requests can never both advance from one size (the rollback race the spec describes).
   * The UPDATE is also a compare-and-swap on the size and root that were read. Returns what
   * `decide` returned; nothing is written when it throws. An `evidence` outcome (a refused
   * request worth keeping) is stored instead of a next record.
   */
  update<T extends { next?: WitnessRecord; evidence?: { status: number; request: string } }>(origin: string, decide: (current: WitnessRecord | undefined) => T): T {
    return this.#db
      .transaction(() => {
        const current = this.get(origin);
        const outcome = decide(current);
        const next = outcome.next;
        if (next) {
          const changed = current
            ? this.#advance.run(next.size, next.rootHash, next.checkpoint, next.cosignedAt, origin, current.size, current.rootHash).changes
            : this.#insert.run(origin, next.size, next.rootHash, next.checkpoint, next.cosignedAt).changes;
          if (changed !== 1) throw new Error(`the witness state of ${origin} changed during its own transaction`);
        } else if (outcome.evidence) {
          this.#keep.run(origin, Math.floor(Date.now() / 1000), outcome.evidence.status, outcome.evidence.request, origin, MAX_EVIDENCE_PER_ORIGIN);
        }
        return outcome;
      })
      .immediate();
  }

  close(): void {
    this.#db.close();
  }

  /** Creates the tables in a new file; refuses a file that is not a witness state of this version. */
  #prepareFile(path: string): void {
    const version = this.#db.pragma('user_version', { simple: true }) as number;
    const id = this.#db.pragma('application_id', { simple: true }) as number;
    if (version === 0 && id === 0) {
      const tables = this.#db.prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table'").pluck().get() as number;
      if (tables > 0) throw new TypeError(`${path} is a SQLite file but not a witness state file; give the witness a path of its own`);
      this.#db.transaction(() => {
        this.#db.exec(SCHEMA);
        this.#db.pragma(`application_id = ${APPLICATION_ID}`);
        this.#db.pragma(`user_version = ${STATE_VERSION}`);
      }).immediate();
      return;
    }
    if (id !== APPLICATION_ID) throw new TypeError(`${path} is not a witness state file (application_id ${id}); give the witness a path of its own`);
    if (version !== STATE_VERSION) throw new RangeError(`${path} is a witness state file of version ${version}; this Stele reads version ${STATE_VERSION}`);
  }
}
