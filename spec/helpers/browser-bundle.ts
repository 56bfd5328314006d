/**
 * Spec helper: a Stele entry (or a snippet) bundled with esbuild for the browser platform, as an
 * IIFE that sets `globalName`, with every import that is a `node:` or Node builtin module, or
 * that was left external, reported.
 */
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface BundleReport {
  code: string;
  /** Every import that is a `node:` or Node builtin module, or that was left external. */
  nodeImports: string[];
  /** The files in the bundle, relative to the repository. */
  inputs: string[];
}

export async function bundleForBrowser(options: { entry: string } | { contents: string }, globalName: string): Promise<BundleReport> {
  const source = 'entry' in options ? { entryPoints: [options.entry] } : { stdin: { contents: options.contents, resolveDir: ROOT, loader: 'ts' as const } };
  const result = await build({
    ...source,
    bundle: true,
    platform: 'browser',
    format: 'iife',
    globalName,
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'silent',
    absWorkingDir: ROOT,
    // Resolve node: imports as externals so that they are reported here rather than as a
    // resolution error with a less useful message.
    external: ['node:*'],
  });
  const metafile: Metafile = result.metafile;
  const nodeImports = Object.values(metafile.inputs)
    .flatMap((input) => input.imports)
    // '<runtime>' is esbuild's own helper module (CommonJS interop), inside the bundle.
    .filter((imp) => imp.path !== '<runtime>' && (imp.external || imp.path.startsWith('node:')))
    .map((imp) => imp.path);
  return { code: result.outputFiles[0]!.text, nodeImports, inputs: Object.keys(metafile.inputs) };
}
