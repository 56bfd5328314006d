/**
 * Supervision and graceful shutdown: appends retried with the same eventId when the writer thread
 * dies mid-flight (a new writer takes over and the retry lands exactly once), the 'error' event
 * for a writer that gave up restarting, and a child process that receives SIGTERM flushes and
 * exits 0 with every acknowledged event on disk.
 * Run with `npx tsx examples/supervision-and-shutdown.ts`.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { isLedgerError, openLedger, type AppendInput, type Ledger } from 'stele';


/** Appends with retries: WRITER_CRASHED means "outcome unknown", and the eventId makes a retry safe. */
async function appendSafely(ledger: Ledger, input: AppendInput): Promise<number> {
  const event = { ...input, eventId: input.eventId ?? randomUUID() };
  for (let attempt = 1; ; attempt++) {
    try {
      return (await ledger.append(event)).sequence;
    } catch (error) {
      if (!isLedgerError(error, 'WRITER_CRASHED') || attempt === 3) throw error;
      console.log(`attempt ${attempt}: WRITER_CRASHED, retrying ${event.eventId} (the same id: never twice in the ledger)`);
    }
  }
}

/** The child: a service that appends until it is told to stop. */
async function service(path: string): Promise<void> {
  const ledger = await openLedger(path);
  ledger.closeOnSignals({ timeoutMs: 1_500 }); // SIGTERM/SIGINT: flush, close, exit 0
  try {
    for (let i = 0; ; i++) {
      const { sequence } = await ledger.append({ type: 'heartbeat', payload: { i } });
      console.log(JSON.stringify({ sequence }));
    }
  } catch (error) {
    // Appends made after the signal are refused, never half-written; the service loop ends there.
    if (!isLedgerError(error, 'LEDGER_CLOSED')) throw error;
  }
}

/** The parent: a writer crash survived in process, then a graceful shutdown of another process. */
async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'stele-supervision-'));
  const path = join(dir, 'audit.db');
  const ledger = await openLedger(path, { maxRestarts: 3, restartWindowMs: 60_000 });
  ledger.on('error', (error) => console.error('writer gave up restarting:', error.code)); // after maxRestarts

  // appendSafely retries WRITER_CRASHED with the same eventId: if the writer thread dies mid-append
  // (a native crash, an out-of-memory kill), the order still lands exactly once.
  const sequence = await appendSafely(ledger, { type: 'order_placed', payload: { order: 1 } });
  console.log(`order 1 landed once, at #${sequence}; writer restarts so far: ${ledger.health().restarts}`);
  console.log('health:', JSON.stringify({ writer: ledger.health().writer, headSequence: ledger.health().headSequence }));
  await ledger.close();

  // Graceful shutdown of another process: SIGTERM after some acknowledgements.
  const child = spawn(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, 'child', path], { stdio: ['ignore', 'pipe', 'inherit'] });
  let acknowledged = 0;
  for await (const line of createInterface({ input: child.stdout! })) {
    acknowledged = (JSON.parse(line) as { sequence: number }).sequence;
    if (acknowledged === sequence + 20) child.kill('SIGTERM'); // once: a second signal is not caught
  }
  const exitCode = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const reopened = await openLedger(path, { readonly: true });
  console.log(`child exited with ${exitCode}; last acknowledged #${acknowledged}, on disk #${reopened.maxSequence()}`);
  if (exitCode !== 0 || reopened.maxSequence() < acknowledged) throw new Error('shutdown lost acknowledged events');
  await reopened.close();
  rmSync(dir, { recursive: true, force: true });
}

if (process.argv[2] === 'child') await service(process.argv[3]!);
else await main();
