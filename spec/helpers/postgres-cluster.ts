/**
 * Spec helper: a throwaway PostgreSQL cluster (initdb + pg_ctl) in a temp directory, listening on
 * 127.0.0.1 and a socket in that directory, stopped and removed after the spec file.
 *
 * Without PostgreSQL binaries a local run skips the specs that need them, saying why; under
 * `CI=true` the same situation fails, because CI installs PostgreSQL (`.ci/run`) and a skipped
 * spec there would hide a missing install step.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

/** A running cluster: connect as `superuser` over TCP to 127.0.0.1:`port`. */
export interface PostgresCluster {
  host: string;
  port: number;
  superuser: string;
  /** Connection string for a role of this cluster (trust authentication on 127.0.0.1). */
  url(user?: string, database?: string): string;
  /** Runs SQL through psql as the superuser; returns its stdout (unaligned, tuples only). */
  psql(sql: string, database?: string): string;
  stop(): void;
}

/** The directory holding initdb, pg_ctl and psql, or undefined when PostgreSQL is not installed. */
export function postgresBinDir(): string | undefined {
  const onPath = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  // Resolve the symlink: psql is not always beside a linked initdb.
  if (onPath.status === 0 && onPath.stdout.trim()) return join(realpathSync(onPath.stdout.trim()), '..');
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  // Debian keeps each major version's binaries off PATH; take the newest.
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : undefined;
}

/**
 * Why the PostgreSQL specs cannot run here, or undefined when they can. Under CI=true a reason is
 * an error, not a skip.
 */
export function postgresUnavailable(): string | undefined {
  if (postgresBinDir() === undefined) return 'PostgreSQL binaries (initdb, pg_ctl) are not installed';
  if (process.getuid?.() === 0 && spawnSync('id', ['-u', 'postgres']).status !== 0) {
    return 'running as root and there is no `postgres` user to run initdb as';
  }
  return undefined;
}

/**
 * Skips the calling spec file's tests when PostgreSQL is missing locally; throws under CI=true.
 * Returns true when the specs can run.
 */
export function requirePostgres(): boolean {
  const reason = postgresUnavailable();
  if (reason === undefined) return true;
  if (process.env.CI === 'true') throw new Error(`PostgreSQL specs must run under CI=true, but ${reason}; .ci/run installs it`);
  console.warn(`# skipping PostgreSQL specs: ${reason}`);
  return false;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Runs a PostgreSQL binary as a non-root user: as `postgres` when this process is root. */
function run(bin: string, args: string[], options: { input?: string } = {}): string {
  const asRoot = process.getuid?.() === 0;
  const [command, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  return execFileSync(command, argv, { encoding: 'utf8', input: options.input, stdio: ['pipe', 'pipe', 'pipe'] });
}

/**
 * Starts a cluster for the calling spec file; it is stopped (immediately, no checkpoint) and
 * removed in `t.after`. `logical: true` sets wal_level = logical for publications.
 */
export async function startPostgresCluster(t: TestContext | { after(fn: () => unknown): void }, options: { logical?: boolean } = {}): Promise<PostgresCluster> {
  const bin = postgresBinDir();
  if (bin === undefined) throw new Error('PostgreSQL binaries are not installed');
  const dir = mkdtempSync(join(tmpdir(), 'stele-pg-'));
  const data = join(dir, 'data');
  if (process.getuid?.() === 0) {
    chownSync(dir, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })));
  }
  chmodSync(dir, 0o700);
  const superuser = 'postgres';
  const port = await freePort();
  const settings = [
    `listen_addresses = '127.0.0.1'`,
    `port = ${port}`,
    `unix_socket_directories = '${dir}'`,
    `max_connections = 40`,
    `shared_buffers = 32MB`,
    options.logical ? `wal_level = logical` : '',
  ].join('\n');
  try {
    run(join(bin, 'initdb'), ['-D', data, '-U', superuser, '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    // initdb created postgresql.conf as the postgres user; append through the same user.
    run('sh', ['-c', `cat >> '${join(data, 'postgresql.conf')}'`], { input: `${settings}\n` });
    run(join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']);
  } catch (error) {
    spawnSync('sh', ['-c', `cat '${join(dir, 'server.log')}' >&2`], { stdio: 'inherit' });
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  let stopped = false;
  const cluster: PostgresCluster = {
    host: '127.0.0.1',
    port,
    superuser,
    url: (user = superuser, database = 'postgres') => `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}/${database}`,
    psql: (sql, database = 'postgres') =>
      run(join(bin, 'psql'), ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(port), '-U', superuser, '-d', database], { input: sql }),
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        run(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  t.after(() => cluster.stop());
  return cluster;
}
