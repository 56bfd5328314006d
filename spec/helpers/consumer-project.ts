/**
 * Spec helper: a fresh project outside the repository with Stele installed in its node_modules,
 * as `npm install` of the packed tarball lays it out: `node_modules/stele/` holds copies (not
 * links) of the built `dist/`, `native-sql/` and the real `package.json`, so that TypeScript and
 * bundlers resolve from inside the project and see only the packages linked beside it. Nothing
 * else of the repository's node_modules is visible (in particular no `@types/better-sqlite3`,
 * which is only a devDependency), so no network is needed and nothing leaks in.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { BuiltPackage } from './built-package.ts';

const ROOT = resolve(import.meta.dirname, '../..');

export interface ConsumerProject {
  dir: string;
  remove(): void;
}

export interface ConsumerProjectOptions {
  /** Packages of the repository's node_modules linked into the project, e.g. `['zod', '@types/node']`. */
  packages?: string[];
  /** The project's own package.json (default: an ESM project). */
  packageJson?: object;
  /** Files to write into the project, path → contents. */
  files?: Record<string, string>;
}

/** A new temp project with the package built in `built` installed; `remove()` deletes it. */
export function consumerProject(built: BuiltPackage, options: ConsumerProjectOptions = {}): ConsumerProject {
  const dir = mkdtempSync(join(tmpdir(), 'stele-consumer-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    const installed = join(dir, 'node_modules/stele');
    mkdirSync(installed, { recursive: true });
    cpSync(join(built.dir, 'dist'), join(installed, 'dist'), { recursive: true });
    cpSync(join(ROOT, 'native-sql'), join(installed, 'native-sql'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(installed, 'package.json'));
    for (const name of options.packages ?? []) {
      const target = join(dir, 'node_modules', name);
      mkdirSync(dirname(target), { recursive: true });
      symlinkSync(join(ROOT, 'node_modules', name), target);
    }
    writeFileSync(join(dir, 'package.json'), JSON.stringify(options.packageJson ?? { name: 'consumer', private: true, type: 'module' }));
    for (const [path, contents] of Object.entries(options.files ?? {})) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), contents);
    }
    return { dir, remove };
  } catch (error) {
    remove();
    throw error;
  }
}
