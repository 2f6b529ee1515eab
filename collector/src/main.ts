// The effectful shell: open the database, migrate, settle the read token,
// serve, and on SIGINT/SIGTERM commit what is queued before exiting.
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { describeRules } from './accept.js';
import { createApp, type App } from './app.js';
import { backupSqlite } from './backup.js';
import { sampleMemory } from './bench-memory.js';
import type { Config } from './config.js';
import { createRetention } from './retention.js';
import { ConnectionTable } from './connections.js';
import { addressKey } from './ratelimit.js';
import { openPostgres } from './storage/postgres.js';
import { openSqlite } from './storage/sqlite.js';
import { openSqliteInWorker } from './storage/sqlite-worker.js';
import { utcDay, type Prune, type Storage } from './storage/types.js';
import { summarize, takeStages, traceStages } from './trace.js';
import type { Database } from './config.js';

export interface Running {
  url: string;
  app: App;
  storage: Storage;
  close(): Promise<void>;
}

const HOUR = 3_600_000;
/** After SIGTERM, connections still open this long are closed (requests in flight by then are cut; nothing acknowledged is lost). */
export const DRAIN_MS = 10_000;

const openStorage = (config: Config, sqliteWorker?: string): Storage =>
  config.database.kind === 'postgres'
    ? openPostgres(config.database.url, config.limits)
    : sqliteWorker && !config.bench?.sqliteOnMain
      ? openSqliteInWorker(config.database.file, sqliteWorker, config.limits, config.bench?.stages)
      : openSqlite(config.database.file, config.limits);

/** The commands that are not `serve`: print the stored read token, or back up the SQLite database. */
export async function runCommand(config: Config, print: (line: string) => void): Promise<void> {
  if (config.command.kind === 'backup') {
    if (config.database.kind !== 'sqlite') throw new Error('backup copies a SQLite database; for PostgreSQL use pg_dump');
    const r = backupSqlite(config.database.file, config.command.out);
    print(`backup: ${config.command.out} (${r.events} raw events, ${r.bytes} bytes)`);
    return;
  }
  if (config.token !== undefined) return print('read token: the one in INSTALL_BEACON_TOKEN (not printed)');
  if (config.database.kind === 'sqlite' && !existsSync(config.database.file)) throw new Error(`no database at ${config.database.file} (start the collector once)`);
  const storage = openStorage(config);
  try {
    print(`read token: ${await storage.metaGetOrSet('read_token', randomBytes(24).toString('base64url'))}`);
  } finally {
    await storage.close();
  }
}

/**
 * A new SQLite file is created readable by its owner only (it holds the read token); SQLite gives its
 * -wal and -shm files the database file's mode. An existing file keeps its mode: a note when others can read it.
 */
function ownerOnly(file: string, print: (line: string) => void): void {
  closeSync(openSync(file, 'a', 0o600));
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) print(`  note: ${file} is readable by others (mode ${mode.toString(8)}); chmod 600 it and its -wal and -shm files`);
}

/**
 * `sqliteWorker`: the script that runs SQLite in a worker thread (the built bundle itself);
 * without one (in-process tests of the TypeScript source) SQLite runs on the main thread.
 */
export async function start(config: Config, print: (line: string) => void, sqliteWorker?: string): Promise<Running> {
  const notes: string[] = [];
  if (config.database.kind === 'sqlite') ownerOnly(config.database.file, (l) => notes.push(l));
  traceStages(config.bench?.stages === true);
  if (config.bench?.memory) sampleMemory(config.bench.memory, 'main');
  const storage = openStorage(config, sqliteWorker);
  try {
    await storage.migrate();
  } catch (e) {
    await storage.close().catch(() => {});
    throw e;
  }
  // The dashboard's filtered views read the combination table; with SQLite they run in a worker of their own
  // (WAL: readers never block the writer), so ingest's commits never wait behind one.
  const dashboardStorage = config.database.kind === 'sqlite' && sqliteWorker ? openSqliteInWorker(config.database.file, sqliteWorker) : undefined;

  // Slow or stuck clients time out: the head within --headers-timeout, the request within --request-timeout
  // (checked every second), an idle keep-alive connection after --keep-alive-timeout; connections are capped
  // in total and per address (connections.ts).
  const limits = { headersTimeout: config.headersTimeout, requestTimeout: config.requestTimeout, keepAliveTimeout: config.keepAliveTimeout, connectionsCheckingInterval: 1_000 };
  let app: App | undefined;
  let ready!: (a: App) => void;
  const appReady = new Promise<App>((r) => (ready = r));
  let closing: Promise<void> | undefined;
  // Each admitted connection's "answered, waiting for the next request" callback, made once per connection
  // (not per request); with TLS, found by the TCP socket's peer (req.socket is then the TLS socket over it).
  const idlers = new WeakMap<Socket, () => void>();
  const byPeer = new Map<string, Socket>();
  const peer = (s: Socket) => `${s.remoteAddress}|${s.remotePort}`;
  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const s = config.tls ? byPeer.get(peer(req.socket)) : req.socket;
    const idle = s && idlers.get(s);
    if (idle) {
      table.busy(s!);
      res.on('finish', idle);
    }
    // While draining, every answer closes its connection, so a keep-alive client cannot hold the exit.
    if (closing) res.setHeader('connection', 'close');
    if (app) app.handle(req, res);
    else void appReady.then((a) => a.handle(req, res));
  };
  const server = config.tls
    ? https.createServer({ cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key), ...limits }, handle)
    : http.createServer(limits, handle);
  server.keepAliveTimeout = limits.keepAliveTimeout;
  const table = new ConnectionTable<Socket>({ max: config.maxConnections, perAddress: config.maxConnectionsPerAddress });
  server.on('connection', (s: Socket) => {
    const close = table.open(s, addressKey(s.remoteAddress ?? ''));
    if (!close.includes(s)) {
      idlers.set(s, () => table.idle(s));
      if (config.tls) byPeer.set(peer(s), s);
      s.once('close', () => {
        table.closed(s);
        if (config.tls && byPeer.get(peer(s)) === s) byPeer.delete(peer(s));
      });
    }
    for (const c of close) c.destroy();
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
  } catch (e) {
    // Close what holds the process open (the SQLite workers, the PostgreSQL pool), so a busy port is exit 1 at once.
    await Promise.all([storage.close(), dashboardStorage?.close()].map((p) => p?.catch(() => {})));
    throw e;
  }
  // The token is settled once listening (a start that fails to listen generates none it could not print);
  // requests meanwhile wait for it.
  let token: string | undefined;
  let generated = false;
  try {
    if (!config.public && config.token === undefined) {
      const fresh = randomBytes(24).toString('base64url');
      token = await storage.metaGetOrSet('read_token', fresh);
      generated = token === fresh;
    } else token = config.public ? undefined : config.token;
  } catch (e) {
    server.close();
    server.closeAllConnections();
    await Promise.all([storage.close(), dashboardStorage?.close()].map((p) => p?.catch(() => {})));
    throw e;
  }
  app = createApp({ routes: config.routes, storage, dashboardStorage, token, rateLimit: config.rateLimit, trustProxy: config.trustProxy, log: print });
  ready(app);
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `${config.tls ? 'https' : 'http'}://${host}:${port}`;

  print(`install-beacon-collector listening on ${url}`);
  print(`data: ${storage.where}`);
  for (const n of notes) print(n);
  print('routes (put the same string in installBeacon.url):');
  for (const r of config.routes) {
    const rules = describeRules(r.rules);
    print(`  ${r.package ? `${r.package}=` : ''}${url}${r.display}${rules ? `  (accepts only: ${rules})` : ''}`);
  }
  if (config.routes.some((r) => !r.variables.has('event_id'))) print('  note: include {event_id} in the template so a retried or replayed event is stored once');
  // A token is printed once: by the start that generated it. One the operator set, or one stored by an earlier
  // start, never is (journald and log collectors keep what a service prints).
  print(
    token === undefined
      ? 'read token: none (--public: the read API is open)'
      : config.token !== undefined
        ? 'read token: the one in INSTALL_BEACON_TOKEN (not printed)'
        : generated
          ? `read token: ${token} (generated now and stored in the database; printed this once, \`install-beacon-collector token\` prints it again)`
          : 'read token: stored in the database (printed when it was generated; `install-beacon-collector token` prints it)',
  );
  print(`dashboard: ${url}/${token === undefined ? '' : ' (sign in with the read token)'}`);

  // Hourly, in small batches, never ahead of real time (retention.ts). The daily counts go too when
  // --counts-retention-days is given (by default they are kept: they are the history).
  const countsDays = config.countsRetentionDays;
  const sweepOnce = createRetention({
    storage,
    retentionMs: config.retentionDays * 24 * HOUR,
    countsRetentionMs: countsDays === undefined ? undefined : countsDays * 24 * HOUR,
    wall: Date.now,
    monotonic: () => performance.now(),
    log: print,
    utcDay,
  });
  // A failed sweep (the database is down) is tried again at the next hour; the health log says why writes fail.
  const sweep = () => void sweepOnce().catch(() => {});
  sweep();
  const retention = setInterval(sweep, HOUR);
  retention.unref();

  const running = app;
  return {
    url,
    app: running,
    storage,
    close: () =>
      (closing ??= (async () => {
        clearInterval(retention);
        // Stop listening and close idle connections; a request in flight is answered with Connection: close
        // (and a new event gets 503), and whatever is still open after DRAIN_MS is closed.
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const cut = setTimeout(() => server.closeAllConnections(), DRAIN_MS);
        try {
          await running.close();
          await closed;
        } finally {
          clearTimeout(cut);
        }
        await storage.close();
        await dashboardStorage?.close();
        // For the benchmark: how many commits and events, and (traced) the time per stage.
        const stages = takeStages();
        if (config.bench) writeFileSync(config.bench.file, JSON.stringify({ ...running.batcher.stats, stages: stages && summarize(stages) }));
      })()),
  };
}

/** `install-beacon-collector prune`: delete junk (Storage.prune) and say what went. */
export async function prune(database: Database, target: Prune, print: (line: string) => void): Promise<void> {
  const storage = database.kind === 'postgres' ? openPostgres(database.url) : openSqlite(database.file);
  try {
    await storage.migrate();
    const { events, rows } = await storage.prune(target);
    print(`pruned ${events} raw events and ${rows} count rows from ${storage.where}`);
  } finally {
    await storage.close();
  }
}
