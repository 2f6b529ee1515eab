import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

// A throwaway PostgreSQL 15 cluster of the test's own: initdb in a temp dir,
// the server on 127.0.0.1 and a free port, run as `nobody` (PostgreSQL refuses
// to run as root), stopped by its PID. stop()/start() keep the data (the
// database going away and coming back).

// PG_BIN, else the newest /usr/lib/postgresql/<major>/bin (15 on these machines, 16 on GitHub's Ubuntu runners).
function findBin(): string | undefined {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const base = '/usr/lib/postgresql';
  const majors = existsSync(base) ? readdirSync(base).filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(b) - Number(a)) : [];
  return majors.map((m) => `${base}/${m}/bin`).find((d) => existsSync(`${d}/postgres`));
}
const BIN = findBin() ?? '/usr/lib/postgresql/15/bin';
/**
 * The PostgreSQL tests run wherever PostgreSQL is installed, and always on Linux (where a missing
 * server fails them rather than skipping them); elsewhere (macOS/Windows CI) they are skipped.
 */
export const postgresSkipped = process.platform !== 'linux' && findBin() === undefined;
const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;

export interface Postgres {
  url: string;
  port: number;
  /** The postmaster's process id while the server runs (its backends are its children), else undefined. */
  pid: number | undefined;
  /** What the server wrote to stdout and stderr since it last started (its log, with the `settings` given). */
  log(): string;
  /** A fresh database on this server; returns its URL. */
  createDatabase(name: string): Promise<string>;
  start(): Promise<void>;
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

// PostgreSQL refuses to run as root: as root, run it as nobody; otherwise as the current user.
const asNobody = (cmd: string, args: string[]): readonly [string, string[]] =>
  isRoot ? ['setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', '--', cmd, ...args]] : [cmd, args];

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitReady(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const end = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`postgres exited (${child.exitCode}): ${log()}`);
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    try {
      await c.connect();
      await c.query('SELECT 1');
      await c.end();
      return;
    } catch {
      await c.end().catch(() => {});
      if (Date.now() > end) throw new Error(`postgres did not become ready: ${log()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** `settings`: more `-c NAME=VALUE` server settings (e.g. a preloaded extension). */
export async function startPostgres(settings: string[] = []): Promise<Postgres> {
  const dir = mkdtempSync(join(tmpdir(), 'ibc-pg-'));
  if (isRoot) chownSync(dir, NOBODY, NOBODY);
  const data = join(dir, 'data');
  const [cmd, args] = asNobody(join(BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  execFileSync(cmd, args, { stdio: 'pipe' });
  let port = await freePort();
  let child: ChildProcess | undefined;
  let log = '';

  const url = () => `postgres://postgres@127.0.0.1:${port}/postgres`;

  async function start(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      log = '';
      const [c, a] = asNobody(join(BIN, 'postgres'), ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=60', '-c', 'shared_buffers=16MB', ...settings.flatMap((x) => ['-c', x])]);
      const p = spawn(c, a, { stdio: ['ignore', 'pipe', 'pipe'] });
      p.stdout!.on('data', (d) => (log += d));
      p.stderr!.on('data', (d) => (log += d));
      child = p;
      try {
        await waitReady(url(), p, () => log);
        return;
      } catch (e) {
        if (attempt < 2 && /could not bind|Address already in use/.test(log)) {
          port = await freePort();
          continue;
        }
        throw e;
      }
    }
  }

  async function stop(): Promise<void> {
    const p = child;
    child = undefined;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGINT'); // fast shutdown: ends sessions, writes a checkpoint
    await exited;
  }

  await start();
  const server: Postgres = {
    get url() {
      return url();
    },
    get port() {
      return port;
    },
    get pid() {
      return child?.exitCode === null ? child.pid : undefined;
    },
    log: () => log,
    async createDatabase(name) {
      const c = new pg.Client({ connectionString: url() });
      await c.connect();
      await c.query(`CREATE DATABASE "${name}"`);
      await c.end();
      return url().replace(/\/postgres$/, `/${name}`);
    },
    start,
    stop,
    async destroy() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}
