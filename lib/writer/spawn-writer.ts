/**
 * Starting a writer worker: the handshake. The port is transferred in `workerData`; the worker
 * answers `ready` (with the head it verified) or `failed` (a coded refusal), logging before that.
 * @internal
 */
import { inspect } from 'node:util';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { fromWire, LedgerError } from '../errors.ts';
import type { LedgerHead } from '../event.ts';
import { workerScript } from '../runtime/worker-script.ts';
import type { FromWriter, WriterSettings } from './protocol.ts';
import type { LogLevel } from '../options.ts';

/** A started writer: the thread and the port it speaks on. */
export interface WriterConnection {
  worker: Worker;
  port: MessagePort;
}

export type WriterLog = (level: LogLevel, fields: Record<string, unknown>, message: string) => void;

/** Starts a writer worker and waits for its `ready`, or rejects with its refusal. */
export function spawnWriter(settings: WriterSettings, log: WriterLog): Promise<{ connection: WriterConnection; head: LedgerHead | undefined }> {
  const { port1, port2 } = new MessageChannel();
  const script = workerScript('writer/writer-worker');
  const worker = new Worker(script.filename, {
    workerData: { ...script.workerData, settings, port: port2 },
    transferList: [port2],
  });
  return new Promise((resolve, reject) => {
    const settle = () => {
      worker.off('error', onStartupError);
      worker.off('exit', onStartupExit);
      port1.off('message', onMessage);
    };
    const onStartupError = (error: Error) => {
      settle();
      port1.close();
      reject(error);
    };
    const onStartupExit = (code: number) => {
      // The worker answers 'failed' and exits at once: its exit can be seen before its last
      // message, which is then still queued on the port. That answer, not the exit, is the outcome.
      for (let queued = receiveMessageOnPort(port1); queued; queued = receiveMessageOnPort(port1)) {
        const message = queued.message as FromWriter;
        if (message.kind !== 'log') return onMessage(message);
        log(message.level, message.fields, message.message);
      }
      onStartupError(LedgerError.of('WRITER_CRASHED', { exitCode: code }, 'the writer exited while starting'));
    };
    const onMessage = (message: FromWriter) => {
      if (message.kind === 'log') return log(message.level, message.fields, message.message);
      settle();
      if (message.kind === 'ready') {
        resolve({ connection: { worker, port: port1 }, head: message.head });
      } else if (message.kind === 'failed') {
        port1.close();
        reject(fromWire(message.error));
      } else {
        void worker.terminate();
        port1.close();
        reject(LedgerError.of('WRITER_CRASHED', { message: inspect(message) }, 'the writer sent an unexpected message before ready'));
      }
    };
    worker.on('error', onStartupError);
    worker.on('exit', onStartupExit);
    port1.on('message', onMessage);
  });
}
