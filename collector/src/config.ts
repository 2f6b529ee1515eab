// The command line and environment, parsed once at start into a typed object.
// Nothing else reads process.argv or process.env.
import { isAbsolute, resolve } from 'node:path';
import { parseRules } from './accept.js';
import { compileRoute, DEFAULT_ROUTE, isPackageName, type Route } from './routes.js';
import { DEFAULT_LIMITS, type Limits, type Prune } from './storage/types.js';

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
  /** Days the daily counts are kept; undefined: for ever. */
  countsRetentionDays?: number;
  /** What senders can make the database track (storage/types.ts Limits). */
  limits: Limits;
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
  /**
   * The benchmark's (bench/run.ts): INSTALL_BEACON_BENCH=FILE gets the commit counts at exit, with INSTALL_BEACON_BENCH_STAGES=1
   * the time of each ingest stage (trace.ts), with INSTALL_BEACON_BENCH_MEMORY=FILE each thread's memory each second (bench-memory.ts),
   * and with INSTALL_BEACON_BENCH_SQLITE_THREAD=main SQLite on the HTTP thread, no worker: the bench's counterfactual (what the
   * worker's thread hand-offs cost on two cores), never a mode to serve in, since a stalled fsync would then stall every request.
   */
  bench?: { file: string; stages: boolean; memory?: string; sqliteOnMain: boolean };
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
  --accept-package NAME    the --route before it accepts events only for this package, or @scope/*
                           (repeatable; before any --route: for the default route)
  --accept VAR=RULE        the --route before it accepts {VAR} (any variable) only if it is RULE:
                           semver, /regex/ (the whole value), or a list such as linux,darwin,win32
  --public                 read API readable without the token
  --tls-cert F --tls-key F serve https with this certificate and key (PEM)
  --retention-days N       keep raw events N days (default ${DEFAULTS.retentionDays}); daily counts stay
  --counts-retention-days N
                           delete the daily counts of days older than N (default: keep them)
  --max-values N           distinct values counted per package, field and day (default ${DEFAULT_LIMITS.values});
                           later new values of that day count as "other"
  --max-combinations N     distinct sets of values kept per package and day for filtered views
                           (default ${DEFAULT_LIMITS.combinations}); later new sets count without their values
  --rate-limit N           ingest events per sender per minute (default ${DEFAULTS.rateLimit}; 0: off);
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
  prune [--db FILE | --database-url URL] WHAT
                           delete junk, then exit; WHAT is one of:
    --package P...         every event and count of these packages (repeatable)
    --keep P...            every event and count of every package but these (repeatable)
    --package P --field F --value V
                           the raw events with F=V; its counts move to F's "other"

Environment: INSTALL_BEACON_TOKEN (the read token), DATABASE_URL (PostgreSQL).`;

export type ParseResult = { ok: true; config: Config } | { ok: false; error: string } | { ok: 'help' };

const VALUE_FLAGS = ['--port', '--host', '--db', '--database-url', '--route', '--accept-package', '--accept', '--tls-cert', '--tls-key', '--retention-days', '--counts-retention-days', '--max-values', '--max-combinations', '--rate-limit', '--max-connections', '--max-connections-per-address', '--headers-timeout', '--request-timeout', '--keep-alive-timeout'] as const;
const PRUNE_FLAGS = ['--db', '--database-url', '--package', '--keep', '--field', '--value'] as const;
const REPEATABLE = ['--route', '--package', '--keep', '--accept-package', '--accept'];
const SWITCHES = ['--public', '--trust-proxy', '--help'] as const;

function intIn(flag: string, text: string, min: number, max: number): number | string {
  if (!/^\d+$/.test(text)) return `${flag} must be a whole number, not "${text}"`;
  const n = Number(text);
  return n < min || n > max ? `${flag} must be between ${min} and ${max}` : n;
}

function scan(argv: readonly string[], valueFlags: readonly string[], switchFlags: readonly string[]): { values: Map<string, string[]>; switches: Set<string>; positional: string[]; order: Array<[string, string]> } | string {
  const values = new Map<string, string[]>();
  const order: Array<[string, string]> = [];
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
    if (switchFlags.includes(flag) && eq === -1) {
      switches.add(flag);
    } else if (valueFlags.includes(flag)) {
      const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
      if (value === undefined) return `${flag} needs a value`;
      if (!REPEATABLE.includes(flag) && values.has(flag)) return `${flag} is given twice`;
      values.set(flag, [...(values.get(flag) ?? []), value]);
      order.push([flag, value]);
    } else return `unknown option "${arg}" (see --help)`;
  }
  return { values, switches, positional, order };
}

function databaseOf(one: (flag: string) => string | undefined, env: Env, cwd: string): Database | string {
  const url = one('--database-url') ?? (env.DATABASE_URL || undefined);
  if (url !== undefined && one('--db') !== undefined) return 'give --db (SQLite) or --database-url (PostgreSQL), not both';
  if (url !== undefined) {
    if (!/^postgres(ql)?:\/\//i.test(url)) return 'the database URL must start with postgres:// or postgresql://';
    return { kind: 'postgres', url };
  }
  const file = one('--db') ?? DEFAULTS.db;
  if (!file) return '--db is empty';
  return { kind: 'sqlite', file: isAbsolute(file) ? file : resolve(cwd, file) };
}

export type PruneResult = { ok: true; database: Database; target: Prune } | { ok: false; error: string };

/** `install-beacon-collector prune ...` (argv after "prune"). */
export function parsePrune(argv: readonly string[], env: Env, cwd: string): PruneResult {
  const scanned = scan(argv, PRUNE_FLAGS, []);
  if (typeof scanned === 'string') return { ok: false, error: scanned };
  const { values } = scanned;
  if (scanned.positional.length) return { ok: false, error: `prune: unexpected "${scanned.positional[0]}" (see --help)` };
  const database = databaseOf((f) => values.get(f)?.[0], env, cwd);
  if (typeof database === 'string') return { ok: false, error: database };
  const packages = values.get('--package') ?? [];
  const keep = values.get('--keep') ?? [];
  const field = values.get('--field')?.[0];
  const value = values.get('--value')?.[0];
  if ((field === undefined) !== (value === undefined)) return { ok: false, error: 'prune: --field and --value go together' };
  if (field !== undefined && value !== undefined) {
    if (packages.length !== 1 || keep.length) return { ok: false, error: 'prune: --field and --value need exactly one --package' };
    return { ok: true, database, target: { package: packages[0]!, field, value } };
  }
  if (packages.length && keep.length) return { ok: false, error: 'prune: give --package or --keep, not both' };
  if (keep.length) return { ok: true, database, target: { keep } };
  if (packages.length) return { ok: true, database, target: { packages } };
  return { ok: false, error: 'prune: say what to delete: --package P, --keep P, or --package P --field F --value V' };
}

/** The benchmark's memory samples' file (INSTALL_BEACON_BENCH_MEMORY, with INSTALL_BEACON_BENCH), read by the main thread and the SQLite worker alike. */
export const benchMemoryFile = (env: Env, cwd: string): string | undefined => (env.INSTALL_BEACON_BENCH && env.INSTALL_BEACON_BENCH_MEMORY ? resolve(cwd, env.INSTALL_BEACON_BENCH_MEMORY) : undefined);

export function parseConfig(argv: readonly string[], env: Env, cwd: string): ParseResult {
  const scanned = scan(argv, VALUE_FLAGS, SWITCHES);
  if (typeof scanned === 'string') return { ok: false, error: scanned };
  const { values, switches, positional } = scanned;
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

  const database = databaseOf(one, env, cwd);
  if (typeof database === 'string') return { ok: false, error: database };

  const specs = values.get('--route') ?? [];
  // Accept rules belong to the --route before them (before any --route: to the default route).
  const groups: Array<{ spec: string; packages: string[]; accepts: string[] }> = specs.length ? [] : [{ spec: DEFAULT_ROUTE, packages: [], accepts: [] }];
  for (const [flag, value] of scanned.order) {
    if (flag === '--route') groups.push({ spec: value, packages: [], accepts: [] });
    else if (flag === '--accept-package' || flag === '--accept') {
      const g = groups[groups.length - 1];
      if (!g) return { ok: false, error: `${flag} ${value}: give it after the --route it restricts` };
      (flag === '--accept' ? g.accepts : g.packages).push(value);
    }
  }
  const routes: Route[] = [];
  for (const g of groups) {
    const r = compileRoute(g.spec);
    if (!r.ok) return { ok: false, error: r.error };
    const rules = parseRules(g.packages, g.accepts, r.route.package, isPackageName);
    if (!rules.ok) return { ok: false, error: `--route ${g.spec}: ${rules.error}` };
    routes.push({ ...r.route, rules: rules.value });
  }

  const cert = one('--tls-cert');
  const key = one('--tls-key');
  if ((cert === undefined) !== (key === undefined)) return { ok: false, error: '--tls-cert and --tls-key go together' };

  const retentionDays = intIn('--retention-days', one('--retention-days') ?? String(DEFAULTS.retentionDays), 1, 36500);
  if (typeof retentionDays === 'string') return { ok: false, error: retentionDays };
  const countsText = one('--counts-retention-days');
  const countsRetentionDays = countsText === undefined ? undefined : intIn('--counts-retention-days', countsText, 1, 36500);
  if (typeof countsRetentionDays === 'string') return { ok: false, error: countsRetentionDays };
  const maxValues = intIn('--max-values', one('--max-values') ?? String(DEFAULT_LIMITS.values), 1, 1e6);
  if (typeof maxValues === 'string') return { ok: false, error: maxValues };
  const maxCombinations = intIn('--max-combinations', one('--max-combinations') ?? String(DEFAULT_LIMITS.combinations), 1, 1e7);
  if (typeof maxCombinations === 'string') return { ok: false, error: maxCombinations };
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
      countsRetentionDays,
      limits: { values: maxValues, combinations: maxCombinations },
      rateLimit,
      trustProxy,
      maxConnections: maxConnections as number,
      maxConnectionsPerAddress: maxConnectionsPerAddress as number,
      headersTimeout: (headersTimeout as number) * 1000,
      requestTimeout: (requestTimeout as number) * 1000,
      keepAliveTimeout: (keepAliveTimeout as number) * 1000,
      command,
      bench: env.INSTALL_BEACON_BENCH ? { file: resolve(cwd, env.INSTALL_BEACON_BENCH), stages: env.INSTALL_BEACON_BENCH_STAGES === '1', memory: benchMemoryFile(env, cwd), sqliteOnMain: env.INSTALL_BEACON_BENCH_SQLITE_THREAD === 'main' } : undefined,
    },
  };
}
