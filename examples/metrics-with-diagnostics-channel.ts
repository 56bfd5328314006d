/**
 * Metrics from node:diagnostics_channel: Stele publishes appends, failures, group commits, halts
 * and verification progress on `stele:*` channels (README, "Instrumentation"). A subscriber turns
 * them into counters and a latency histogram, as an OpenTelemetry or APM bridge would. With no
 * subscriber, nothing is built or published.
 *
 * Run with `npx tsx examples/metrics-with-diagnostics-channel.ts`.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLedger, type DiagnosticMessages } from 'stele';

/** A tiny metrics registry standing in for prom-client or an OpenTelemetry meter. */
const metrics = {
  appendedEvents: 0,
  appendRequests: 0,
  failedRequests: new Map<string, number>(),
  commits: 0,
  latencyMs: [] as number[],
  verifiedRows: 0,
  halts: 0,
};

const on = <N extends keyof DiagnosticMessages>(name: N, handle: (message: DiagnosticMessages[N]) => void) =>
  diagnosticsChannel.subscribe(name, (message) => handle(message as DiagnosticMessages[N]));

on('stele:append', ({ events, durationMs }) => {
  metrics.appendRequests++;
  metrics.appendedEvents += events;
  metrics.latencyMs.push(durationMs);
});
on('stele:append:error', ({ code }) => {
  const key = code ?? 'misuse';
  metrics.failedRequests.set(key, (metrics.failedRequests.get(key) ?? 0) + 1);
});
on('stele:commit', () => metrics.commits++);
on('stele:verify:progress', ({ checked }) => (metrics.verifiedRows = checked));
on('stele:halt', () => metrics.halts++);

const dir = mkdtempSync(join(tmpdir(), 'stele-metrics-'));
try {
  const ledger = await openLedger(join(dir, 'audit.db'), { durability: 'normal' });
  // Concurrent appends: the writer group-commits them, so commits < requests.
  await Promise.all(Array.from({ length: 200 }, (_, i) => ledger.append({ type: 'order_placed', streamId: `order-${i % 20}`, payload: { i } })));
  await ledger.appendBatch(Array.from({ length: 100 }, () => ({ type: 'item_scanned' })));
  await ledger.append({ type: 'order_placed', streamId: 'order-1', expectedVersion: 0 }).catch(() => undefined);
  await ledger.verify();
  await ledger.close();

  const sorted = [...metrics.latencyMs].sort((a, b) => a - b);
  const p = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(2);
  console.log(`append requests ${metrics.appendRequests}, events ${metrics.appendedEvents}, group commits ${metrics.commits}`);
  console.log(`append latency p50 ${p(0.5)} ms, p99 ${p(0.99)} ms`);
  console.log('failed requests by code', Object.fromEntries(metrics.failedRequests));
  console.log(`rows verified ${metrics.verifiedRows}, halts ${metrics.halts}`);
  if (metrics.appendedEvents !== 300 || metrics.failedRequests.get('WRONG_EXPECTED_VERSION') !== 1 || metrics.verifiedRows !== 300) {
    throw new Error('the metrics do not match what was done');
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
