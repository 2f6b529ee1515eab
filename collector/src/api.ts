// The read API: the npm download-counts API's shapes (point, range, per-version), breakdowns, the
// raw-events export and the badges. Every answer is JSON (a badge's SVG aside); the dashboard and
// /healthz live in app.ts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { badgeSvg, endpointBadge } from './badge.js';
import { days, parsePeriod, type Period } from './periods.js';
import { FIELDS, isPackageName } from './routes.js';
import { FIELD_NAME, OTHER, type Storage } from './storage/types.js';

export interface ApiOptions {
  storage: Storage;
  /** Today, UTC (YYYY-MM-DD). */
  today: () => string;
  /** The read token's check (always 'ok' with --public): 'throttled' after too many wrong ones from the sender. */
  authorized: (req: IncomingMessage) => string;
}

export function json(res: ServerResponse, req: IncomingMessage, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** Whether a path belongs to the read API (never an event, whatever the routes): the collector's own and npm's. */
export const isApiPath = (path: string): boolean => /^\/(api|badge|versions)\/|^\/downloads\/(point|range)(\/|$)/.test(path);

/** npm's bounds on a bulk lookup (npm/registry docs/download-counts.md, "Limits"). */
export const BULK_MAX = 128;
export const BULK_DAYS = 365;

/**
 * "@scope/name", "@scope%2Fname" or "name" from the rest of a path, if it is a package name by the rule ingest
 * stores names by (routes.ts isPackageName): a name no event could have carried is not looked up.
 */
export function packageName(rest: string): string | undefined {
  let name: string;
  try {
    name = decodeURIComponent(rest);
  } catch {
    return undefined;
  }
  return isPackageName(name) ? name : undefined;
}

/** A breakdown's values past the storage's bound (Limits) as `other`, next to the counts. */
const withOther = (counts: Record<string, number>, key: string) => {
  const { [OTHER]: other, ...rest } = counts;
  return other === undefined ? { [key]: rest } : { [key]: rest, other };
};
const notFound = (pkg: string) => ({ error: `package ${pkg} not found` });

/**
 * Any origin may read (a README's badge, a static page's counts): the API takes no cookie, so a page
 * reads only what it could read anyway, public counts, or counts behind the token it sends itself.
 */
const CORS = { 'access-control-allow-origin': '*' };
const PREFLIGHT = { ...CORS, 'access-control-allow-methods': 'GET, HEAD', 'access-control-allow-headers': 'Authorization', 'access-control-max-age': '86400' };

/** Answers any request for an API path (isApiPath). */
export function createApi(o: ApiOptions): (req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams) => Promise<void> {
  return async function api(req, res, path, query) {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { ...PREFLIGHT, 'cache-control': 'max-age=86400' });
      return void res.end();
    }
    for (const [k, v] of Object.entries(CORS)) res.setHeader(k, v);
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, req, 405, { error: 'only GET and HEAD are accepted' }, { allow: 'GET, HEAD, OPTIONS' });
    const badge = /^\/badge\/(.+)\.(json|svg)$/.exec(path);
    if (badge) {
      const pkg = packageName(badge[1]!);
      if (!pkg) return json(res, req, 404, { error: 'not a package name' });
      const week = parsePeriod('last-week', o.today());
      const weekly = [...(await o.storage.daily(pkg, week.ok ? week.period.start : '', o.today())).values()].reduce((a, b) => a + b, 0);
      const b = endpointBadge(weekly);
      if (badge[2] === 'json') return json(res, req, 200, b, { 'cache-control': 'max-age=300' });
      const svg = badgeSvg(b);
      res.writeHead(200, { 'content-type': 'image/svg+xml', 'cache-control': 'max-age=300', 'content-length': Buffer.byteLength(svg) });
      res.end(req.method === 'HEAD' ? undefined : svg);
      return;
    }
    const auth = o.authorized(req);
    if (auth === 'throttled') return json(res, req, 429, { error: 'too many wrong tokens from this address; retry in a minute' }, { 'retry-after': '60' });
    if (auth !== 'ok') return json(res, req, 401, { error: 'a read token is needed: Authorization: Bearer <token>' }, { 'www-authenticate': 'Bearer' });

    let m: RegExpExecArray | null;
    const withPeriod = async (periodText: string, rest: string, answer: (pkg: string, p: Period) => Promise<unknown>) => {
      const p = parsePeriod(periodText, o.today());
      if (!p.ok) return json(res, req, 400, { error: p.error });
      const pkg = packageName(rest);
      if (!pkg || !(await o.storage.hasPackage(pkg))) return json(res, req, 404, notFound(pkg ?? rest));
      return json(res, req, 200, await answer(pkg, p.period));
    };
    // npm's paths, and the same under /api/ (the collector's first spelling).
    const npmPath = /^\/api\/(downloads|versions)\//.test(path) ? path.slice(4) : path;
    if ((m = /^\/downloads\/(point|range)\/([^/]+)(?:\/(.+))?$/.exec(npmPath))) {
      const kind = m[1] as 'point' | 'range';
      const counts = async (pkg: string | null, p: Period) => {
        const daily = await o.storage.daily(pkg, p.start, p.end);
        const named = pkg === null ? {} : { package: pkg };
        if (kind === 'point') return { downloads: [...daily.values()].reduce((a, b) => a + b, 0), start: p.start, end: p.end, ...named };
        return { start: p.start, end: p.end, ...named, downloads: days(p).map((day) => ({ day, downloads: daily.get(day) ?? 0 })) };
      };
      const rest = m[3];
      if (rest === undefined) {
        // No package: every package's installs (npm's registry-wide totals), `package` absent.
        const p = parsePeriod(m[2]!, o.today());
        return p.ok ? json(res, req, 200, await counts(null, p.period)) : json(res, req, 400, { error: p.error });
      }
      if (!rest.includes(',')) return withPeriod(m[2]!, rest, (pkg, p) => counts(pkg, p));
      // Bulk, as npm: up to BULK_MAX unscoped names, at most BULK_DAYS days; an unknown name is null.
      const p = parsePeriod(m[2]!, o.today());
      if (!p.ok) return json(res, req, 400, { error: p.error });
      const names = rest.split(',').map((n) => packageName(n) ?? n);
      if (names.some((n) => n.startsWith('@') || n.startsWith('%40'))) return json(res, req, 400, { error: 'scoped packages are not currently supported in bulk lookups' });
      if (names.length > BULK_MAX) return json(res, req, 400, { error: `bulk lookups are limited to ${BULK_MAX} packages` });
      if (days(p.period).length > BULK_DAYS) return json(res, req, 400, { error: `exceeded max days of ${BULK_DAYS}` });
      const out: Record<string, unknown> = {};
      for (const name of names) out[name] = packageName(name) !== undefined && (await o.storage.hasPackage(name)) ? await counts(name, p.period) : null;
      return json(res, req, 200, out);
    }
    // npm serves last-week only; every period is answered here.
    if ((m = /^\/versions\/(.+)\/([^/]+)$/.exec(npmPath))) {
      return withPeriod(m[2]!, m[1]!, async (pkg, p) => ({ package: pkg, ...withOther(await o.storage.breakdown(pkg, 'version', p.start, p.end), 'downloads') }));
    }
    if ((m = /^\/api\/breakdown\/([^/]+)\/([^/]+)\/(.+)$/.exec(path))) {
      const field = m[1]!;
      if (!FIELD_NAME.test(field) || field === 'event_id' || field === 'name') return json(res, req, 400, { error: `not a counted variable: "${field}" (install-beacon's: ${FIELDS.join(', ')}; or any other a route stores)` });
      return withPeriod(m[2]!, m[3]!, async (pkg, p) => ({ package: pkg, start: p.start, end: p.end, field, ...withOther(await o.storage.breakdown(pkg, field, p.start, p.end), 'counts') }));
    }
    if (path === '/api/events.ndjson') {
      const sinceText = query.get('since');
      const since = sinceText ? Date.parse(sinceText) : 0;
      if (Number.isNaN(since)) return json(res, req, 400, { error: 'since must be an ISO time, e.g. 2026-11-01T00:00:00Z' });
      const pkg = query.get('package') ?? undefined;
      res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' });
      if (req.method === 'HEAD') return void res.end();
      let afterId = 0;
      for (;;) {
        const page = await o.storage.events({ package: pkg, since, afterId, limit: 1000 });
        if (page.length === 0) break;
        const lines = page.map((e) => JSON.stringify({ package: e.package, received_at: new Date(e.receivedAt).toISOString(), ...(e.eventId !== null ? { event_id: e.eventId } : {}), ...e.vars }) + '\n').join('');
        afterId = page[page.length - 1]!.id;
        if (!res.write(lines)) await new Promise((r) => res.once('drain', r));
        if (res.destroyed) return;
      }
      return void res.end();
    }
    return json(res, req, 404, { error: 'no such API path' });
  };
}
