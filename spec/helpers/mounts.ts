/**
 * Spec helper: real file systems with real limits, mounted for one test and unmounted after it:
 * a small tmpfs (a disk that fills up) and a read-only bind mount of a folder (read-only media).
 *
 * Mounting needs root (CAP_SYS_ADMIN), which CI and the development machines have. Where it is
 * refused, a local run skips the test saying why; under `CI=true` the same refusal fails, since
 * a skipped spec there would hide that these paths went untested.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

function mount(t: TestContext, args: string[], what: string): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'stele-mount-'));
  try {
    execFileSync('mount', [...args, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    const reason = `cannot mount ${what} here (uid ${process.getuid?.()}): ${stderr || String(error)}`;
    if (process.env.CI === 'true') throw new Error(`${reason}; CI runs as root and must run this spec`);
    t.skip(reason);
    return undefined;
  }
  t.after(() => {
    // Lazy, so that a file a failed test left open does not keep the mount (or fail the cleanup).
    execFileSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** A new tmpfs of `bytes`, or undefined when mounting is not permitted (the test is then skipped). */
export function smallFilesystem(t: TestContext, bytes: number): string | undefined {
  return mount(t, ['-t', 'tmpfs', '-o', `size=${bytes},mode=0755`, 'tmpfs'], `a tmpfs of ${bytes} bytes`);
}

/**
 * A read-only view of `source` (a bind mount remounted `ro`): writes through it fail with EROFS,
 * even as root. Undefined when mounting is not permitted (the test is then skipped).
 */
export function readOnlyView(t: TestContext, source: string): string | undefined {
  const dir = mount(t, ['--bind', source], `a bind mount of ${source}`);
  if (dir === undefined) return undefined;
  // A bind mount takes its flags only from a remount (older mount(8) ignores `-o ro` on --bind).
  execFileSync('mount', ['-o', 'remount,bind,ro', dir]);
  return dir;
}
