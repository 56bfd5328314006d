/**
 * Messages between a {@link FileCopyReplicator} and its thread.
 * @internal
 */
import type { WireError } from '../errors.ts';

/** `workerData` of the copier thread. */
export interface CopierStartup {
  replicaPath: string;
  primaryPath: string;
}

export type CopierRequest = { kind: 'propagate'; id: number; upTo: number } | { kind: 'close' };

/** The copy's head after the request, and the error when it failed. */
export interface CopierReply {
  id: number;
  sequence: number;
  error?: WireError;
}
