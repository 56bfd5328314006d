/**
 * `ledger.verify()` with its progress and outcome published on `stele:verify:*` (when anyone
 * listens), beside the caller's own `onProgress`.
 * @internal
 */
import { hasDiagnosticSubscribers, publishDiagnostic } from '../diagnostics.ts';
import { verifyLedgerFile, type VerifyOptions, type VerifyResult } from '../verify/verify-ledger-file.ts';

export async function observedVerify(path: string, options: VerifyOptions): Promise<VerifyResult> {
  if (!hasDiagnosticSubscribers('stele:verify:progress') && !hasDiagnosticSubscribers('stele:verify:done')) {
    return verifyLedgerFile(path, options);
  }
  const started = performance.now();
  const own = (options as { onProgress?: unknown } | null)?.onProgress;
  const observed: VerifyOptions =
    typeof options === 'object' && options !== null
      ? {
          ...options,
          onProgress: (progress) => {
            publishDiagnostic('stele:verify:progress', () => ({ path, checked: progress.checked, total: progress.total }));
            if (typeof own === 'function') own(progress);
          },
        }
      : options;
  try {
    const result = await verifyLedgerFile(path, observed);
    publishDiagnostic('stele:verify:done', () => ({ path, ok: result.ok, checked: result.checked, durationMs: performance.now() - started }));
    return result;
  } catch (error) {
    publishDiagnostic('stele:verify:done', () => ({ path, ok: false, checked: 0, durationMs: performance.now() - started, error }));
    throw error;
  }
}
