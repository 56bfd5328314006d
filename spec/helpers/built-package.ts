/**
 * Spec helper: the package compiled with `tsc -p tsconfig.build.json` into a temp folder laid out
 * as an installed copy is: `dist/`, `native-sql/` beside it (dist/ finds it at `../native-sql/`),
 * `node_modules` linked to the repository's, and a `package.json` that makes `.js` files ESM.
 * Its bin runs with plain `node`, no tsx, so a child process starts in a fraction of the time.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

export interface BuiltPackage {
  /** The package folder. */
  dir: string;
  /** Removes the folder. */
  remove(): void;
}

/** Compiles the package into a new temp folder; rejects with tsc's output if tsc exits non-zero. */
export async function buildPackage(): Promise<BuiltPackage> {
  const dir = mkdtempSync(join(tmpdir(), 'stele-pkg-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const { code, output } = await new Promise<{ code: number | null; output: string }>((done, fail) => {
      const child = spawn(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(dir, 'dist')], { cwd: ROOT });
      let output = '';
      child.stdout.on('data', (chunk) => (output += chunk));
      child.stderr.on('data', (chunk) => (output += chunk));
      child.on('error', fail);
      child.on('close', (code) => done({ code, output }));
    });
    if (code !== 0) throw new Error(`tsc -p tsconfig.build.json exited with ${code}:\n${output}`);
    cpSync(join(ROOT, 'native-sql'), join(dir, 'native-sql'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    return { dir, remove };
  } catch (error) {
    remove();
    throw error;
  }
}
