// Starts a TypeScript worker entry when Stele runs from source (specs, examples, benchmarks).
// tsx cannot be handed to a worker through execArgv on Node 20, so the worker starts here,
// registers tsx's loader for itself, then imports the real entry named in workerData. The entry's
// default export is passed on, because piscina calls the default export of its `filename`.
// The published package runs its compiled JavaScript workers directly and never loads this file.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const entry = await import(workerData.tsEntry);
export default entry.default;
