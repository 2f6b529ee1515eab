// Routes: the same URL template an author puts in `installBeacon.url`, turned
// into a matcher for incoming request URLs. The template is parsed by
// install-beacon's own parser (bundled in at build time), so a template the
// hook accepts is a template the collector accepts, variable for variable.
import { parseTemplate, VARIABLES, type VarName } from '../../src/template.js';

export { VARIABLES, type VarName };

/** Variables stored per event as fields (everything but the package name, which has its own column, and event_id). */
export const FIELDS: readonly VarName[] = VARIABLES.filter((v) => v !== 'name' && v !== 'event_id');

const PATH_VARIABLES: readonly VarName[] = ['name', 'version', 'platform', 'arch'];

/** The route accepted when none is given: the package's name, version, platform and arch as path segments, every other variable as a query parameter of its own name. */
export const DEFAULT_ROUTE =
  '/' + PATH_VARIABLES.map((v) => `{${v}}`).join('/') + '?' + VARIABLES.filter((v) => !PATH_VARIABLES.includes(v)).map((v) => `${v}={${v}}`).join('&');

interface QueryParam {
  name: string;
  /** Matches the raw (still percent-encoded) value; its groups are `vars` in order. */
  pattern: RegExp;
  vars: VarName[];
}

export interface Route {
  /** What was given on the command line. */
  spec: string;
  /** The template's path and query, as printed at start. */
  display: string;
  /** Fixed package name for a template without {name} (PACKAGE=TEMPLATE). */
  package?: string;
  path: RegExp;
  pathVars: VarName[];
  query: QueryParam[];
  variables: ReadonlySet<VarName>;
}

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A pattern of literal text and {variables}: a regex over the raw text, each variable one group. */
function compilePattern(text: string, value: string): { source: string; vars: VarName[] } {
  const vars: VarName[] = [];
  let source = '';
  for (const piece of text.split(/(\{[a-z_]+\})/)) {
    const m = /^\{([a-z_]+)\}$/.exec(piece);
    if (m) {
      vars.push(m[1] as VarName);
      source += value;
    } else source += escapeRegex(piece);
  }
  return { source, vars };
}

/**
 * An npm package name, as npm's registry has ever accepted one (new names are lowercase; a few old
 * ones are not, such as JSONStream): at most 214 characters, an optional `@scope/`, each part of
 * characters a URL carries unencoded, not starting with `.` or `_`. Everything the dashboard lists
 * as a package passes here first, so a sender cannot make a headline of a sentence, a path (`../..`)
 * or markup.
 */
const NAME_PART = /^(?![._])[A-Za-z0-9._~!*'()-]+$/;
export function isPackageName(name: string): boolean {
  if (name.length > 214 || name === 'node_modules' || name === 'favicon.ico') return false;
  const m = /^(?:@([^/]+)\/)?([^/]+)$/.exec(name);
  return m !== null && (m[1] === undefined || NAME_PART.test(m[1])) && NAME_PART.test(m[2]!);
}

export type CompileResult = { ok: true; route: Route } | { ok: false; error: string };

export function compileRoute(spec: string): CompileResult {
  let pkg: string | undefined;
  let template = spec;
  const fixed = /^([^=/:]+|@[^=/:]+\/[^=/:]+)=((?:https?:\/\/|\/).*)$/i.exec(spec);
  if (fixed) {
    pkg = fixed[1];
    template = fixed[2]!;
    if (!isPackageName(pkg!)) return { ok: false, error: `--route ${spec}: "${pkg}" is not a package name` };
  }
  const full = template.startsWith('/') ? `http://localhost${template}` : template;
  const parsed = parseTemplate(full);
  if (!parsed.ok) return { ok: false, error: `--route ${spec}: ${parsed.error}` };
  const t = parsed.template;
  if (pkg && t.variables.has('name')) return { ok: false, error: `--route ${spec}: give either {name} in the template or PACKAGE=, not both` };
  if (!pkg && !t.variables.has('name')) return { ok: false, error: `--route ${spec}: the template has no {name}; give it as PACKAGE=TEMPLATE` };

  // Back to text with {variables}, minus scheme and host.
  const text = t.parts.map((p) => ('text' in p ? p.text : `{${p.variable}}`)).join('').slice(t.origin.length);
  const q = text.indexOf('?');
  const pathText = (q === -1 ? text : text.slice(0, q)) || '/';
  const queryText = q === -1 ? '' : text.slice(q + 1);
  if (!pathText.startsWith('/')) return { ok: false, error: `--route ${spec}: the path must start with /` };
  if (/^\/(api|badge|healthz|versions)(\/|$)|^\/downloads\/(point|range)(\/|$)/.test(pathText)) return { ok: false, error: `--route ${spec}: /api, /badge, /healthz, /versions, /downloads/point and /downloads/range are the collector's own paths` };

  const path = compilePattern(pathText, '([^/]+)');
  const query: QueryParam[] = [];
  for (const item of queryText.split('&').filter(Boolean)) {
    const eq = item.indexOf('=');
    const name = eq === -1 ? item : item.slice(0, eq);
    if (name.includes('{')) return { ok: false, error: `--route ${spec}: a query parameter's name cannot be a variable` };
    const value = compilePattern(eq === -1 ? '' : item.slice(eq + 1), '([^&]*)');
    if (value.vars.length === 0) continue; // fixed text: nothing to store
    query.push({ name, pattern: new RegExp(`^${value.source}$`), vars: value.vars });
  }
  return {
    ok: true,
    route: { spec, display: text, package: pkg, path: new RegExp(`^${path.source}$`), pathVars: path.vars, query, variables: t.variables },
  };
}

// ---- Ingest: each rejection is a named reason with its status ----

export const REJECTIONS = {
  uri_too_long: { status: 414, text: 'URL longer than 2048 bytes' },
  method: { status: 405, text: 'only GET and HEAD are accepted' },
  no_route: { status: 404, text: 'no route matches this URL' },
  bad_encoding: { status: 400, text: 'a value is not valid percent-encoded UTF-8' },
  raw_bytes: { status: 400, text: 'the URL holds bytes that must be percent-encoded' },
  dot_segment: { status: 400, text: 'the path holds a "." or ".." segment' },
  value_too_long: { status: 400, text: 'a value is longer than 200 characters' },
  control_chars: { status: 400, text: 'a value holds control characters' },
  invisible_chars: { status: 400, text: 'a value holds bidirectional-text controls, line or paragraph separators or a byte-order mark' },
  bad_name: { status: 400, text: 'the package name is not a valid npm package name' },
  duplicate_param: { status: 400, text: 'a query parameter is given twice' },
  rate_limited: { status: 429, text: 'too many requests from this address; retry later' },
  unavailable: { status: 503, text: 'the database is unavailable; retry later' },
} as const;

export type Rejection = keyof typeof REJECTIONS;

export const MAX_URL = 2048;
export const MAX_VALUE = 200;

export interface Matched {
  package: string;
  /** Decoded values of the template's variables present in the request (name excluded). */
  vars: Partial<Record<VarName, string>>;
}

export type MatchResult = { ok: true; event: Matched } | { ok: false; reason: Rejection };

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// Characters that change how the text around them reads without being seen: bidi embeddings,
// overrides and isolates (U+202A-U+202E, U+2066-U+2069), the direction marks (U+200E, U+200F,
// U+061C), the line and paragraph separators (U+2028, U+2029) and the byte-order mark (U+FEFF).
const INVISIBLE = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u2028\u2029\ufeff]/;

function decodeValue(raw: string): { ok: true; value: string } | { ok: false; reason: Rejection } {
  let value: string;
  try {
    value = decodeURIComponent(raw);
  } catch {
    return { ok: false, reason: 'bad_encoding' };
  }
  if (CONTROL.test(value)) return { ok: false, reason: 'control_chars' };
  if (INVISIBLE.test(value)) return { ok: false, reason: 'invisible_chars' };
  // Lone surrogates cannot come out of valid UTF-8; count code points, not UTF-16 units.
  let n = 0;
  for (const _ of value) if (++n > MAX_VALUE) return { ok: false, reason: 'value_too_long' };
  return { ok: true, value };
}

/** Match a request's method and raw URL (as received: path and query, still percent-encoded) against the routes. */
export function matchRequest(routes: readonly Route[], method: string, url: string): MatchResult {
  if (Buffer.byteLength(url) > MAX_URL) return { ok: false, reason: 'uri_too_long' };
  if (method !== 'GET' && method !== 'HEAD') return { ok: false, reason: 'method' };
  // Node hands over bytes >= 0x80 as Latin-1 characters: a well-formed client percent-encodes them.
  if (/[^\u0021-\u007e]/.test(url)) return { ok: false, reason: 'raw_bytes' };
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  const rawQuery = q === -1 ? '' : url.slice(q + 1);
  if (rawPath.split('/').some((s) => s === '.' || s === '..')) return { ok: false, reason: 'dot_segment' };

  const params = new Map<string, string>();
  for (const item of rawQuery.split('&')) {
    if (!item) continue;
    const eq = item.indexOf('=');
    const name = eq === -1 ? item : item.slice(0, eq);
    if (params.has(name)) return { ok: false, reason: 'duplicate_param' };
    params.set(name, eq === -1 ? '' : item.slice(eq + 1));
  }

  for (const route of routes) {
    const m = route.path.exec(rawPath);
    if (!m) continue;
    const raw: Array<[VarName, string]> = route.pathVars.map((v, i) => [v, m[i + 1]!]);
    let fits = true;
    for (const param of route.query) {
      const given = params.get(param.name);
      if (given === undefined) continue; // a query variable may be absent (an older hook's URL): it is not stored
      const pm = param.pattern.exec(given);
      if (!pm) {
        fits = false;
        break;
      }
      param.vars.forEach((v, i) => raw.push([v, pm[i + 1]!]));
    }
    if (!fits) continue;
    const vars: Partial<Record<VarName, string>> = {};
    let pkg = route.package;
    for (const [name, rawValue] of raw) {
      const d = decodeValue(rawValue);
      if (!d.ok) return d;
      if (name === 'name') pkg ??= d.value;
      else vars[name] ??= d.value;
    }
    if (!pkg) return { ok: false, reason: 'no_route' };
    // The name is checked decoded: `%2E%2E%2F%2E%2E` is one raw segment that decodes to `../..`.
    if (!isPackageName(pkg)) return { ok: false, reason: pkg.split('/').some((s) => s === '.' || s === '..') ? 'dot_segment' : 'bad_name' };
    return { ok: true, event: { package: pkg, vars } };
  }
  return { ok: false, reason: 'no_route' };
}
