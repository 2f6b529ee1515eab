// The command line and environment, parsed once at start into a typed object.
// Nothing else reads process.argv or process.env.
import { isAbsolute, resolve } from 'node:path';
import { compileRoute, DEFAULT_ROUTE, type Route } from './routes.js';

export type Env = Readonly<Record<string, string | undefined>>;

export type Database = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };

export interface Config {
  port: number;
  host: string;
  database: Database;
  routes: Route[];
  /** True when no --route was given (the default route is in `routes`). */
  defaultRoute: boolean;
  public: boolean;
  tls?: { cert: string; key: string };
  /** INSTALL_BEACON_TOKEN, if set; otherwise the token stored in the database is used. */
  token?: string;
  retentionDays: number;
  /** Ingest requests per sender (IPv4 address or IPv6 /64, ratelimit.ts) per minute; 0 turns the limit off. */
  rateLimit: number;
  trustProxy: boolean;
  /** Open connections at most (0: no cap); at the cap, the connection waiting longest for a request is closed for a new one. */
  maxConnections: number;
  /** Open connections per client address (IPv4, or IPv6 /64) at most; 0: no cap (the default with --trust-proxy). */
  maxConnectionsPerAddress: number;
  /** Milliseconds: a request's head within headersTimeout, the whole request within requestTimeout, an idle keep-alive connection closed after keepAliveTimeout. */
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
  /** `serve` (the default), or a command: print the read token, or back up the SQLite database into a new file. */
  command: { kind: 'serve' } | { kind: 'token' } | { kind: 'backup'; out: string };
}

export const DEFAULTS = {
  port: 7708,
  host: '127.0.0.1',
  db: './install-beacon.db',
  retentionDays: 400,
  rateLimit: 1200,
  // Below the common descriptor limit of 1024 (ulimit -n), with room for the database's files.
  maxConnections: 900,
  maxConnectionsPerAddress: 64,
  headersTimeout: 10,
  requestTimeout: 15,
  keepAliveTimeout: 5,
};

export const USAGE = `Usage: install-beacon-collector [options]
       install-beacon-collector backup [--db FILE] OUT
       install-beacon-collector token [--db FILE | --database-url URL]

  --port N                 port to listen on (default ${DEFAULTS.port}; 0: any free port)
  --host H                 address to listen on (default ${DEFAULTS.host})
  --db FILE                SQLite database file (default ${DEFAULTS.db})
  --database-url URL       PostgreSQL instead (postgres://...; or DATABASE_URL)
  --route [PACKAGE=]TEMPLATE
                           accept events for this installBeacon.url template (repeatable);
                           default ${DEFAULT_ROUTE}
  --public                 read API readable without the token
  --tls-cert F --tls-key F serve https with this certificate and key (PEM)
  --retention-days N       keep raw events N days (default ${DEFAULTS.retentionDays}); daily counts stay
  --rate-limit N           ingest requests per sender per minute (default ${DEFAULTS.rateLimit}; 0: off);
                           a sender is an IPv4 address or an IPv6 /64
  --trust-proxy            take the client address from X-Forwarded-For (behind a reverse proxy)
  --max-connections N      open connections at most (default ${DEFAULTS.maxConnections}; 0: no cap); keep it below ulimit -n
  --max-connections-per-address N
                           per IPv4 address or IPv6 /64 (default ${DEFAULTS.maxConnectionsPerAddress}; 0: no cap;
                           with --trust-proxy the default is 0: every connection comes from the proxy)
  --headers-timeout S      a request's head within S seconds (default ${DEFAULTS.headersTimeout}), else 408
  --request-timeout S      the whole request within S seconds (default ${DEFAULTS.requestTimeout}), else 408
  --keep-alive-timeout S   close an idle keep-alive connection after S seconds (default ${DEFAULTS.keepAliveTimeout})
  --help                   this text

Commands:
  backup OUT               copy the SQLite database (--db) into the new file OUT while the collector runs
  token                    print the read token stored in the database

Environment: INSTALL_BEACON_TOKEN (the read token), DATABASE_URL (PostgreSQL).`;

export type ParseResult = { ok: true; config: Config } | { ok: false; error: string } | { ok: 'help' };

const VALUE_FLAGS = ['--port', '--host', '--db', '--database-url', '--route', '--tls-cert', '--tls-key', '--retention-days', '--rate-limit', '--max-connections', '--max-connections-per-address', '--headers-timeout', '--request-timeout', '--keep-alive-timeout'] as const;
const SWITCHES = ['--public', '--trust-proxy', '--help'] as const;

function intIn(flag: string, text: string, min: number, max: number): number | string {
  if (!/^\d+$/.test(text)) return `${flag} must be a whole number, not "${text}"`;
  const n = Number(text);
  return n < min || n > max ? `${flag} must be between ${min} and ${max}` : n;
}

export function parseConfig(argv: readonly string[], env: Env, cwd: string): ParseResult {
  const values = new Map<string, string[]>();
  const switches = new Set<string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    if ((SWITCHES as readonly string[]).includes(flag) && eq === -1) {
      switches.add(flag);
    } else if ((VALUE_FLAGS as readonly string[]).includes(flag)) {
      const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
      if (value === undefined) return { ok: false, error: `${flag} needs a value` };
      if (flag !== '--route' && values.has(flag)) return { ok: false, error: `${flag} is given twice` };
      values.set(flag, [...(values.get(flag) ?? []), value]);
    } else return { ok: false, error: `unknown option "${arg}" (see --help)` };
  }
  if (switches.has('--help')) return { ok: 'help' };
  let command: Config['command'] = { kind: 'serve' };
  if (positional[0] === 'token' && positional.length === 1) command = { kind: 'token' };
  else if (positional[0] === 'backup' && positional.length === 2) command = { kind: 'backup', out: resolve(cwd, positional[1]!) };
  else if (positional[0] === 'backup') return { ok: false, error: 'backup needs one argument: the file to write (install-beacon-collector backup --db FILE OUT)' };
  else if (positional.length) return { ok: false, error: `unknown command "${positional[0]}" (commands: backup, token; see --help)` };
  const one = (flag: string): string | undefined => values.get(flag)?.[0];

  const port = intIn('--port', one('--port') ?? String(DEFAULTS.port), 0, 65535);
  if (typeof port === 'string') return { ok: false, error: port };
  const host = one('--host') ?? DEFAULTS.host;
  if (!host) return { ok: false, error: '--host is empty' };

  const url = one('--database-url') ?? (env.DATABASE_URL || undefined);
  if (url !== undefined && one('--db') !== undefined) return { ok: false, error: 'give --db (SQLite) or --database-url (PostgreSQL), not both' };
  let database: Database;
  if (url !== undefined) {
    if (!/^postgres(ql)?:\/\//i.test(url)) return { ok: false, error: 'the database URL must start with postgres:// or postgresql://' };
    database = { kind: 'postgres', url };
  } else {
    const file = one('--db') ?? DEFAULTS.db;
    if (!file) return { ok: false, error: '--db is empty' };
    database = { kind: 'sqlite', file: isAbsolute(file) ? file : resolve(cwd, file) };
  }

  const specs = values.get('--route') ?? [];
  const routes: Route[] = [];
  for (const spec of specs.length ? specs : [DEFAULT_ROUTE]) {
    const r = compileRoute(spec);
    if (!r.ok) return { ok: false, error: r.error };
    routes.push(r.route);
  }

  const cert = one('--tls-cert');
  const key = one('--tls-key');
  if ((cert === undefined) !== (key === undefined)) return { ok: false, error: '--tls-cert and --tls-key go together' };

  const retentionDays = intIn('--retention-days', one('--retention-days') ?? String(DEFAULTS.retentionDays), 1, 36500);
  if (typeof retentionDays === 'string') return { ok: false, error: retentionDays };
  const rateLimit = intIn('--rate-limit', one('--rate-limit') ?? String(DEFAULTS.rateLimit), 0, 1e9);
  if (typeof rateLimit === 'string') return { ok: false, error: rateLimit };
  const trustProxy = switches.has('--trust-proxy');
  const n = (flag: string, dflt: number, min: number, max: number) => intIn(flag, one(flag) ?? String(dflt), min, max);
  const maxConnections = n('--max-connections', DEFAULTS.maxConnections, 0, 1e6);
  const maxConnectionsPerAddress = n('--max-connections-per-address', trustProxy ? 0 : DEFAULTS.maxConnectionsPerAddress, 0, 1e6);
  const headersTimeout = n('--headers-timeout', DEFAULTS.headersTimeout, 1, 3600);
  const requestTimeout = n('--request-timeout', DEFAULTS.requestTimeout, 1, 3600);
  const keepAliveTimeout = n('--keep-alive-timeout', DEFAULTS.keepAliveTimeout, 1, 3600);
  for (const v of [maxConnections, maxConnectionsPerAddress, headersTimeout, requestTimeout, keepAliveTimeout]) if (typeof v === 'string') return { ok: false, error: v };
  if ((headersTimeout as number) > (requestTimeout as number)) return { ok: false, error: '--headers-timeout must not be longer than --request-timeout' };
  if (command.kind === 'backup' && database.kind === 'postgres') return { ok: false, error: 'backup copies a SQLite database; for PostgreSQL use pg_dump (see Backups in the README)' };

  const token = env.INSTALL_BEACON_TOKEN || undefined;
  if (token !== undefined && token.length < 16) return { ok: false, error: 'INSTALL_BEACON_TOKEN must be at least 16 characters' };

  return {
    ok: true,
    config: {
      port,
      host,
      database,
      routes,
      defaultRoute: specs.length === 0,
      public: switches.has('--public'),
      tls: cert !== undefined && key !== undefined ? { cert: resolve(cwd, cert), key: resolve(cwd, key) } : undefined,
      token,
      retentionDays,
      rateLimit,
      trustProxy,
      maxConnections: maxConnections as number,
      maxConnectionsPerAddress: maxConnectionsPerAddress as number,
      headersTimeout: (headersTimeout as number) * 1000,
      requestTimeout: (requestTimeout as number) * 1000,
      keepAliveTimeout: (keepAliveTimeout as number) * 1000,
      command,
    },
  };
}
