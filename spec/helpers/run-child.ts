/**
 * Spec helper: a child process running a TypeScript script under tsx, its stdout read as lines
 * (JSON when a line is JSON), killed with SIGKILL after the test if it is still running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';

const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface RunningChild {
  readonly process: ChildProcess;
  /** Every stdout line, in order: parsed JSON where the line is JSON, else the text. Ends when stdout closes. */
  readonly lines: AsyncIterableIterator<unknown>;
  /** The next line; rejects when stdout closes first. */
  next(): Promise<unknown>;
  /** The next line that `matches`, skipping the others; rejects when stdout closes first. */
  until(matches: (line: unknown) => boolean): Promise<unknown>;
  /** Writes a line to the child's stdin (with `stdin: true`). */
  send(line: string): void;
  /** Writes a last line, if given, and closes the child's stdin (a child reading stdin to its end can then exit). */
  end(line?: string): void;
  /** How it ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** What it wrote to stderr so far (with `stderr: 'pipe'`). */
  stderr(): string;
}

export interface RunChildOptions {
  /** Give the child a stdin pipe for {@link RunningChild.send} (default: none). */
  stdin?: boolean;
  /** 'inherit' (default) shows the child's errors in the test output; 'pipe' collects them. */
  stderr?: 'inherit' | 'pipe';
  /** Arguments for node itself, before the script (default: run it under tsx). */
  node?: string[];
}

/** Starts `script` (a path, or a URL relative to the caller) with `args`; killed at `t.after` if still running. */
export function runChild(t: TestContext | undefined, script: string | URL, args: string[], options: RunChildOptions = {}): RunningChild {
  const file = script instanceof URL ? fileURLToPath(script) : script;
  const child = spawn(process.execPath, [...(options.node ?? ['--import', 'tsx']), file, ...args], {
    cwd: PACKAGE_ROOT,
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', options.stderr ?? 'inherit'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  t?.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const lines = (async function* () {
    for await (const text of createInterface({ input: child.stdout! })) yield parse(text);
  })();
  const next = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`${file} closed its stdout (exit ${child.exitCode ?? child.signalCode}); stderr: ${stderr}`);
    return value;
  };
  return {
    process: child,
    lines,
    next,
    async until(matches) {
      for (;;) {
        const line = await next();
        if (matches(line)) return line;
      }
    },
    send(line) {
      child.stdin!.write(`${line}\n`);
    },
    end(line) {
      child.stdin!.end(line === undefined ? undefined : `${line}\n`);
    },
    exited,
    stderr: () => stderr,
  };
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
