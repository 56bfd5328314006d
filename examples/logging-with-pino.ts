/**
 * Logging with pino: Stele takes any pino-compatible logger through the `logger` option and logs
 * as JSON lines. At level 'debug' you see each append, each refused append (with its code and
 * details) and clock-drift warnings; a halt is logged at fatal. Without a logger Stele is silent.
 *
 * Run with `npx tsx examples/logging-with-pino.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { isLedgerError, openLedger } from 'stele';

const logger = pino({ level: 'debug', base: { service: 'billing' } });
const dir = mkdtempSync(join(tmpdir(), 'stele-pino-'));
const ledger = await openLedger(join(dir, 'audit.db'), { logger, driftThresholdMs: 5_000 });

// 1. An append: logged at debug as { eventId, sequence } "appended".
await ledger.append({ type: 'invoice_issued', streamId: 'invoice-7', payload: { cents: 4200 } });

// 2. A refused append: logged at warn as { code: 'WRONG_EXPECTED_VERSION', streamId, expected, actual }.
try {
  await ledger.append({ type: 'invoice_paid', streamId: 'invoice-7', expectedVersion: 5 });
} catch (error) {
  if (!isLedgerError(error, 'WRONG_EXPECTED_VERSION')) throw error;
  logger.info({ code: error.code }, 'the caller handles the refusal: re-read the stream and decide again');
}

// 3. A clock-drift warning: the caller's clock says one minute ago. The event is accepted; the
//    drift is logged at warn and emitted as a 'warning' event.
ledger.on('warning', (warning) => logger.info({ warning }, 'warning event received'));
await ledger.append({ type: 'invoice_paid', streamId: 'invoice-7', localTimestamp: new Date(Date.now() - 60_000) });

// 4. Close: pending appends are flushed first.
await ledger.close();
logger.info('closed');
rmSync(dir, { recursive: true, force: true });
