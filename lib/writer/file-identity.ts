/**
 * Which file a writer has open, by device and inode, so that it notices when its path stops
 * naming that file: deleted, renamed over (`mv export.jsonl audit.db`), or replaced by a
 * restore. SQLite keeps writing into the open inode, which nobody will ever open again, so every
 * append acknowledged after that would be lost with the inode.
 * @internal
 */
import { statSync } from 'node:fs';

export class FileIdentity {
  readonly #path: string;
  readonly #dev: number;
  readonly #ino: number;

  /** Taken right after the writer opened `path` (and holds the lock, so nobody replaced it since). */
  constructor(path: string) {
    const stats = statSync(path);
    this.#path = path;
    this.#dev = stats.dev;
    this.#ino = stats.ino;
  }

  /** What happened to the file at the path, or undefined while it is still the open one. */
  change(): 'deleted' | 'replaced' | undefined {
    const stats = statSync(this.#path, { throwIfNoEntry: false });
    if (stats === undefined) return 'deleted';
    return stats.dev === this.#dev && stats.ino === this.#ino ? undefined : 'replaced';
  }
}
