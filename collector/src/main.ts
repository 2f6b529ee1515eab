// The effectful shell: open the database, migrate, settle the read token,
// serve, and on SIGINT/SIGTERM commit what is queued before exiting.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { describeRules } from './accept.js';
import { createApp, type App } from './app.js';
import type { Config } from './config.js';
import { openPostgres } from './storage/postgres.js';
import { openSqlite } from './storage/sqlite.js';
import { openSqliteInWorker } from './storage/sqlite-worker.js';
import { utcDay, type Prune, type Storage } from './storage/types.js';
import type { Database } from './config.js';

export interface Running {
  url: string;
  app: App;
  storage: Storage;
  close(): Promise<void>;
}

const HOUR = 3_600_000;

/**
 * `sqliteWorker`: the script that runs SQLite in a worker thread (the built bundle itself);
 * without one (in-process tests of the TypeScript source) SQLite runs on the main thread.
 */
export async function start(config: Config, print: (line: string) => void, sqliteWorker?: string): Promise<Running> {
  const storage =
    config.database.kind === 'postgres'
      ? openPostgres(config.database.url, config.limits)
      : sqliteWorker
        ? openSqliteInWorker(config.database.file, sqliteWorker, config.limits)
        : openSqlite(config.database.file, config.limits);
  try {
    await storage.migrate();
  } catch (e) {
    await storage.close().catch(() => {});
    throw e;
  }
  const token = config.public ? undefined : (config.token ?? (await storage.metaGetOrSet('read_token', randomBytes(24).toString('base64url'))));
  // The dashboard's filtered views read the combination table; with SQLite they run in a worker of their own
  // (WAL: readers never block the writer), so ingest's commits never wait behind one.
  const dashboardStorage = config.database.kind === 'sqlite' && sqliteWorker ? openSqliteInWorker(config.database.file, sqliteWorker) : undefined;
  const app = createApp({ routes: config.routes, storage, dashboardStorage, token, rateLimit: config.rateLimit, trustProxy: config.trustProxy });

  // Slow or stuck clients time out: the whole head within 10 s, the request within 15 s
  // (checked every second), an idle keep-alive connection after 5 s.
  const limits = { headersTimeout: 10_000, requestTimeout: 15_000, keepAliveTimeout: 5_000, connectionsCheckingInterval: 1_000 };
  const server = config.tls
    ? https.createServer({ cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key), ...limits }, app.handle)
    : http.createServer(limits, app.handle);
  server.keepAliveTimeout = limits.keepAliveTimeout;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `${config.tls ? 'https' : 'http'}://${host}:${port}`;

  print(`install-beacon-collector listening on ${url}`);
  print(`data: ${storage.where}`);
  print('routes (put the same string in installBeacon.url):');
  for (const r of config.routes) {
    const rules = describeRules(r.rules);
    print(`  ${r.package ? `${r.package}=` : ''}${url}${r.display}${rules ? `  (accepts only: ${rules})` : ''}`);
  }
  if (config.routes.some((r) => !r.variables.has('event_id'))) print('  note: include {event_id} in the template so a retried or replayed event is stored once');
  print(token === undefined ? 'read token: none (--public: the read API is open)' : `read token: ${token}${config.token ? ' (from INSTALL_BEACON_TOKEN)' : ' (stored in the database)'}`);
  print(`dashboard: ${url}/${token === undefined ? '' : `?token=${token}`}`);

  const sweep = () => storage.deleteBefore(Date.now() - config.retentionDays * 24 * HOUR).catch(() => {});
  // The daily counts go too when --counts-retention-days is given (by default they are kept: they are the history).
  const countsDays = config.countsRetentionDays;
  const sweepCounts = () => (countsDays === undefined ? undefined : storage.deleteCountsBefore(utcDay(Date.now() - countsDays * 24 * HOUR)).catch(() => {}));
  void sweep();
  void sweepCounts();
  const retention = setInterval(() => (void sweep(), void sweepCounts()), HOUR);
  retention.unref();

  let closing: Promise<void> | undefined;
  return {
    url,
    app,
    storage,
    close: () =>
      (closing ??= (async () => {
        clearInterval(retention);
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await app.close();
        await closed;
        await storage.close();
        await dashboardStorage?.close();
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
