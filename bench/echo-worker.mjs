// The far end of scenario (e): echoes every message straight back on the port it was handed,
// the same way the writer worker gets its port, so (e) costs one thread hop each way and nothing
// else. Plain JavaScript, because tsx cannot start a .ts worker on Node 20.
import { workerData } from 'node:worker_threads';

const { port } = workerData;
port.on('message', (message) => port.postMessage(message));
