// Routes: URL templates in Scarf Gateway's rules (its file packages' incoming paths), turned into
// matchers for incoming request URLs. A template is text with {variables}: any name of letters,
// digits and "_"; {+name} (RFC 6570 reserved expansion) spans several path segments. A path
// variable must be present (it matches one or more characters); a templated query parameter may be
// absent (an older hook's URL); a fixed query parameter (`?drilldowns=Nation`) must be there with
// that value. Every query parameter of a matched request is stored as a variable, named in the
// template or not (Scarf: query parameters are always captured). install-beacon's own 17 variables
// keep their meaning: {name} is the package, {event_id} de-duplicates; any other name is stored as
// sent. A matched request is an IngestEvent: the package and a Record of every variable (checkEvent holds
// it to the bounds below and to the route's accept rules, whatever way it came in).
import { isLoopbackHost, VARIABLES, type VarName } from '../../src/template.js';
import { checkRules, NO_RULES, type Rules } from './accept.js';

export { VARIABLES, type VarName };

/** install-beacon's variables stored per event as fields (everything but the package name, which has its own column, and event_id). */
export const FIELDS: readonly VarName[] = VARIABLES.filter((v) => v !== 'name' && v !== 'event_id');

const PATH_VARIABLES: readonly VarName[] = ['name', 'version', 'platform', 'arch'];

/** The route accepted when none is given: the package's name, version, platform and arch as path segments, every other variable as a query parameter of its own name. */
export const DEFAULT_ROUTE =
  '/' + PATH_VARIABLES.map((v) => `{${v}}`).join('/') + '?' + VARIABLES.filter((v) => !PATH_VARIABLES.includes(v)).map((v) => `${v}={${v}}`).join('&');

// ---- Bounds on what one event may hold (anyone can send) ----

/** At most this many variables per event, install-beacon's 16 included. */
export const MAX_VARS = 40;
/** A variable's name: 1 to 64 letters, digits, "_", "-" or "." (a template's own names: no "-" or "."). */
export const VAR_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const TEMPLATE_NAME = /^[A-Za-z0-9_]{1,64}$/;
/** Names the events export uses for its own columns. */
export const RESERVED: ReadonlySet<string> = new Set(['package', 'received_at']);
export const MAX_URL = 2048;
/** A value's length, in code points. */
export const MAX_VALUE = 200;

interface QueryParam {
  name: string;
  /** Matches the raw (still percent-encoded) value; its groups are `vars` in order. */
  pattern: RegExp;
  vars: string[];
  /** The value is one variable and nothing else (`name={var}`): it is the whole raw value, no regex needed. */
  whole?: boolean;
}

export interface Route {
  /** What was given on the command line. */
  spec: string;
  /** The template's path and query, as printed at start. */
  display: string;
  /** Fixed package name for a template without {name} (PACKAGE=TEMPLATE). */
  package?: string;
  path: RegExp;
  pathVars: string[];
  query: QueryParam[];
  /** Fixed query parameters (name -> decoded value): a request without them does not match. */
  fixed: ReadonlyMap<string, string>;
  variables: ReadonlySet<string>;
  /** What the route accepts beyond its shape (--accept-package, --accept: accept.ts); config sets them. */
  rules: Rules;
}

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const encodeNonAscii = (s: string): string => s.replace(/[^\u0000-\u007f]+/g, (run) => encodeURIComponent(run.replace(/[\ud800-\udfff]/g, '\ufffd')));

type Piece = { text: string } | { variable: string; reserved: boolean };

/** Text and {variables}; `at` is the text's position in what the author typed, for messages. */
function pieces(text: string, at: number): Piece[] | string {
  const out: Piece[] = [];
  let literal = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '}') return `unexpected "}" at position ${at + i + 1}`;
    if (ch !== '{') {
      literal += ch;
      continue;
    }
    const close = text.indexOf('}', i);
    const inner = close === -1 ? '' : text.slice(i + 1, close);
    const reserved = inner.startsWith('+');
    const name = reserved ? inner.slice(1) : inner;
    if (!TEMPLATE_NAME.test(name)) return `unexpected "{" at position ${at + i + 1} (a variable is {NAME} or {+NAME}, NAME of 1-64 letters, digits and "_")`;
    if (literal) out.push({ text: literal });
    literal = '';
    out.push({ variable: name, reserved });
    i = close;
  }
  if (literal) out.push({ text: literal });
  return out;
}

/** A pattern of literal text and {variables}: a regex over the raw text, each variable one group. */
function compilePattern(ps: readonly Piece[], value: string, reserved: string): { source: string; vars: string[] } {
  const vars: string[] = [];
  let source = '';
  for (const p of ps) {
    if ('text' in p) source += escapeRegex(encodeNonAscii(p.text));
    else {
      vars.push(p.variable);
      source += p.reserved ? reserved : value;
    }
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
  const fail = (why: string): CompileResult => ({ ok: false, error: `--route ${spec}: ${why}` });
  const fixedPkg = /^([^=/:]+|@[^=/:]+\/[^=/:]+)=((?:https?:\/\/|\/).*)$/is.exec(spec);
  if (fixedPkg) {
    pkg = fixedPkg[1];
    template = fixedPkg[2]!;
    if (!isPackageName(pkg!)) return fail(`"${pkg}" is not a package name`);
  }
  if (template.length > MAX_URL) return fail(`the template is longer than ${MAX_URL} characters`);
  if (/[\s\u0000-\u001f\u007f]/.test(template)) return fail('the template contains whitespace or control characters');
  if (template.includes('#')) return fail('the template has a fragment (#...), which is never sent');
  let rest = template;
  const abs = /^(https?):\/\/([^/?#]*)/i.exec(template);
  if (abs) {
    const authority = abs[2]!;
    if (!authority) return fail('the template has no host');
    if (authority.includes('{')) return fail('variables are not allowed in the host; put them in the path or query');
    if (authority.includes('@')) return fail('credentials in the URL are not allowed');
    let host: string;
    try {
      host = new URL(`${abs[1]}://${authority}`).hostname;
    } catch {
      return fail(`the host "${authority}" is not valid`);
    }
    if (abs[1]!.toLowerCase() === 'http' && !isLoopbackHost(host)) return fail(`http:// is only allowed for loopback hosts (localhost, 127.0.0.1, [::1]); use https://${authority}`);
    rest = template.slice(abs[0].length) || '/';
  } else if (!template.startsWith('/')) return fail('the template must start with /, https:// or http://');
  // Positions in messages count in `spec`, as typed.
  const at = spec.length - template.length + (template.length - rest.length);
  const q = rest.indexOf('?');
  const pathText = q === -1 ? rest : rest.slice(0, q);
  const queryText = q === -1 ? '' : rest.slice(q + 1);
  if (!pathText.startsWith('/')) return fail('the path must start with /');
  if (/^\/(api|badge|healthz|versions)(\/|$)|^\/downloads\/(point|range)(\/|$)/.test(pathText)) return fail("/api, /badge, /healthz, /versions, /downloads/point and /downloads/range are the collector's own paths");

  const variables = new Set<string>();
  const add = (ps: readonly Piece[], inQuery: boolean): string | undefined => {
    for (const p of ps) {
      if ('text' in p) continue;
      if (inQuery && p.reserved) return `{+${p.variable}} spans path segments: use it in the path, not the query`;
      if (RESERVED.has(p.variable)) return `{${p.variable}} is reserved (the events export's own column); pick another name`;
      if (variables.has(p.variable)) return `{${p.variable}} is given twice`;
      variables.add(p.variable);
    }
    return undefined;
  };
  const pathPieces = pieces(pathText, at);
  if (typeof pathPieces === 'string') return fail(pathPieces);
  const bad = add(pathPieces, false);
  if (bad) return fail(bad);
  const path = compilePattern(pathPieces, '([^/]+)', '(.+)');

  const query: QueryParam[] = [];
  const fixed = new Map<string, string>();
  let offset = at + pathText.length + 1;
  for (const item of queryText.split('&')) {
    const itemAt = offset;
    offset += item.length + 1;
    if (!item) continue;
    const eq = item.indexOf('=');
    const name = eq === -1 ? item : item.slice(0, eq);
    if (name.includes('{')) return fail("a query parameter's name cannot be a variable");
    const valuePieces = pieces(eq === -1 ? '' : item.slice(eq + 1), itemAt + eq + 1);
    if (typeof valuePieces === 'string') return fail(valuePieces);
    const err = add(valuePieces, true);
    if (err) return fail(err);
    if (query.some((p) => p.name === name) || fixed.has(name)) return fail(`the query parameter "${name}" is given twice`);
    const value = compilePattern(valuePieces, '([^&]*)', '');
    if (value.vars.length === 0) {
      let v: string;
      try {
        v = decodeURIComponent(encodeNonAscii(eq === -1 ? '' : item.slice(eq + 1)));
      } catch {
        return fail(`the query parameter "${name}" is not valid percent-encoded UTF-8`);
      }
      fixed.set(name, v);
    } else query.push({ name, pattern: new RegExp(`^${value.source}$`), vars: value.vars, whole: valuePieces.length === 1 && !('text' in valuePieces[0]!) });
  }
  if (pkg && variables.has('name')) return fail('give either {name} in the template or PACKAGE=, not both');
  if (!pkg && !variables.has('name')) return fail('the template has no {name}; give it as PACKAGE=TEMPLATE');
  if (variables.size > MAX_VARS) return fail(`more than ${MAX_VARS} variables`);
  return {
    ok: true,
    route: { spec, display: rest, package: pkg, path: new RegExp(`^${path.source}$`), pathVars: path.vars, query, fixed, variables, rules: NO_RULES },
  };
}

// ---- Ingest: each rejection is a named reason with its status ----

export const REJECTIONS = {
  uri_too_long: { status: 414, text: 'URL longer than 2048 bytes' },
  method: { status: 405, text: 'only GET, HEAD and POST are accepted' },
  no_route: { status: 404, text: 'no route matches this URL' },
  bad_encoding: { status: 400, text: 'a value is not valid percent-encoded UTF-8' },
  raw_bytes: { status: 400, text: 'the URL holds bytes that must be percent-encoded' },
  dot_segment: { status: 400, text: 'the path holds a "." or ".." segment' },
  value_too_long: { status: 400, text: 'a value is longer than 200 characters' },
  control_chars: { status: 400, text: 'a value holds control characters' },
  invisible_chars: { status: 400, text: 'a value holds bidirectional-text controls, line or paragraph separators or a byte-order mark' },
  bad_name: { status: 400, text: 'the package name is not a valid npm package name' },
  duplicate_param: { status: 400, text: 'a query parameter is given twice' },
  body_too_large: { status: 413, text: 'the body is longer than 65536 bytes' },
  too_many_events: { status: 413, text: 'the body holds more than 1000 events' },
  unsupported_type: { status: 415, text: 'a body must be application/json, application/x-ndjson or application/x-www-form-urlencoded (UTF-8)' },
  bad_body: { status: 400, text: 'the body is malformed' },
  conflicting_value: { status: 400, text: 'the body gives a variable another value than the URL' },
  duplicate_var: { status: 400, text: 'a variable is given twice (a query parameter named like a path variable, or "name" where the route fixes the package)' },
  bad_var_name: { status: 400, text: 'a query parameter\'s name is not 1 to 64 letters, digits, "_", "-" or "."' },
  reserved_name: { status: 400, text: 'a query parameter is named "package" or "received_at" (the events export\'s own columns)' },
  too_many_vars: { status: 400, text: `more than ${MAX_VARS} variables in one event` },
  // Like no_route: this URL names nothing collected here (and the hook never retries a 4xx).
  package_not_accepted: { status: 404, text: 'this route does not accept events for this package' },
  // Well-formed, but refused by the route's --accept rules.
  value_not_accepted: { status: 422, text: "a value is not accepted by this route's --accept rules" },
  rate_limited: { status: 429, text: 'too many requests from this address; retry later' },
  unavailable: { status: 503, text: 'the database is unavailable; retry later' },
} as const;

export type Rejection = keyof typeof REJECTIONS;

/**
 * An event, however it came in (a GET's URL here; a POST body's fields in ingest): the package and
 * every variable, decoded, by name (install-beacon's and any other; event_id included, name not).
 */
export interface IngestEvent {
  package: string;
  vars: Record<string, string>;
}

export type MatchResult = { ok: true; event: IngestEvent; route: Route } | { ok: false; reason: Rejection };

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// Characters that change how the text around them reads without being seen: bidi embeddings,
// overrides and isolates (U+202A-U+202E, U+2066-U+2069), the direction marks (U+200E, U+200F,
// U+061C), the line and paragraph separators (U+2028, U+2029) and the byte-order mark (U+FEFF).
const INVISIBLE = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u2028\u2029\ufeff]/;

/** Any character one of the tests below may refuse (a surrogate, even in a valid pair; control; invisible): none, and the value is fine. */
const SUSPECT = /[\ud800-\udfff\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u2028\u2029\ufeff]/;

/** One decoded value, whatever its variable (from a URL or a body): no control or invisible characters, at most MAX_VALUE code points. */
export function checkValue(value: string): Rejection | undefined {
  // Most values: no suspect character, and no more UTF-16 units than MAX_VALUE (so no more code points).
  if (value.length <= MAX_VALUE && !SUSPECT.test(value)) return undefined;
  // A lone surrogate cannot come out of UTF-8, but a JSON body can spell one (`"\ud800"`): no database stores it.
  if (/[\ud800-\udfff]/u.test(value)) return 'bad_encoding';
  if (CONTROL.test(value)) return 'control_chars';
  if (INVISIBLE.test(value)) return 'invisible_chars';
  // Lone surrogates cannot come out of valid UTF-8; count code points, not UTF-16 units.
  let n = 0;
  for (const _ of value) if (++n > MAX_VALUE) return 'value_too_long';
  return undefined;
}

/**
 * The last step of every way in: an event against the bounds (MAX_VARS variables, names VAR_NAME
 * and not RESERVED, values checkValue), the package name, and the route's accept rules.
 */
export function checkEvent(route: Route, event: IngestEvent): Rejection | undefined {
  const names = Object.keys(event.vars);
  if (names.length > MAX_VARS) return 'too_many_vars';
  for (const name of names) {
    if (!VAR_NAME.test(name)) return 'bad_var_name';
    if (RESERVED.has(name)) return 'reserved_name';
    if (name === 'name') return 'duplicate_var';
    const bad = checkValue(event.vars[name]!);
    if (bad) return bad;
  }
  if (checkValue(event.package)) return 'bad_name';
  // The name is checked decoded: `%2E%2E%2F%2E%2E` is one raw segment that decodes to `../..`.
  if (!isPackageName(event.package)) return event.package.split('/').some((s) => s === '.' || s === '..') ? 'dot_segment' : 'bad_name';
  return checkRules(route.rules, event.package, event.vars);
}

const decode = (raw: string): string | undefined => {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
};

/** Whether a raw path has a "." or ".." segment. */
const DOT_SEGMENT = /(?:^|\/)\.\.?(?:\/|$)/;

/** Match a request's method and raw URL (as received: path and query, still percent-encoded) against the routes. */
export function matchRequest(routes: readonly Route[], method: string, url: string): MatchResult {
  // A UTF-8 byte length is at least the UTF-16 length and at most three times it.
  if (url.length > MAX_URL || (url.length * 3 > MAX_URL && Buffer.byteLength(url) > MAX_URL)) return { ok: false, reason: 'uri_too_long' };
  if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') return { ok: false, reason: 'method' };
  // Node hands over bytes >= 0x80 as Latin-1 characters: a well-formed client percent-encodes them.
  if (/[^\u0021-\u007e]/.test(url)) return { ok: false, reason: 'raw_bytes' };
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  if (DOT_SEGMENT.test(rawPath)) return { ok: false, reason: 'dot_segment' };

  const params = new Map<string, string>();
  if (q !== -1) {
    for (let at = q + 1; at <= url.length; ) {
      let end = url.indexOf('&', at);
      if (end === -1) end = url.length;
      if (end > at) {
        const eq = url.indexOf('=', at);
        const hasValue = eq !== -1 && eq < end;
        const name = url.slice(at, hasValue ? eq : end);
        if (params.has(name)) return { ok: false, reason: 'duplicate_param' };
        params.set(name, hasValue ? url.slice(eq + 1, end) : '');
      }
      at = end + 1;
    }
  }

  routes: for (const route of routes) {
    const m = route.path.exec(rawPath);
    if (!m) continue;
    for (const [name, value] of route.fixed) if (params.has(name) ? decode(params.get(name)!) !== value : true) continue routes;
    // Every variable's name and raw value, in order: the path's, the template's query variables, then every other query parameter.
    const names: string[] = route.pathVars.slice();
    const raws: string[] = [];
    for (let i = 0; i < names.length; i++) raws.push(m[i + 1]!);
    for (const param of route.query) {
      const given = params.get(param.name);
      if (given === undefined) continue; // a query variable may be absent (an older hook's URL): it is not stored
      if (param.whole) {
        names.push(param.vars[0]!);
        raws.push(given);
        continue;
      }
      const pm = param.pattern.exec(given);
      if (!pm) continue routes;
      for (let i = 0; i < param.vars.length; i++) names.push(param.vars[i]!), raws.push(pm[i + 1]!);
    }
    // Every other query parameter (fixed ones too) is a variable of its own name.
    for (const [rawName, rawValue] of params) {
      if (templated(route, rawName)) continue;
      const name = decodeRaw(rawName);
      if (name === undefined) return { ok: false, reason: 'bad_encoding' };
      if (!VAR_NAME.test(name)) return { ok: false, reason: 'bad_var_name' };
      names.push(name);
      raws.push(rawValue);
    }
    const vars: Record<string, string> = {};
    let pkg = route.package;
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      const value = decodeRaw(raws[i]!);
      if (value === undefined) return { ok: false, reason: 'bad_encoding' };
      if (name === 'name' && pkg === undefined) pkg = value;
      else if (name === 'name' || Object.hasOwn(vars, name)) return { ok: false, reason: 'duplicate_var' };
      else vars[name] = value;
      if (i + 1 > MAX_VARS + 1) return { ok: false, reason: 'too_many_vars' };
    }
    if (pkg === undefined) return { ok: false, reason: 'no_route' };
    const event = { package: pkg, vars };
    const refused = checkEvent(route, event);
    return refused ? { ok: false, reason: refused } : { ok: true, event, route };
  }
  return { ok: false, reason: 'no_route' };
}

/** A raw value decoded; one without a "%" is its own decoding. */
const decodeRaw = (raw: string): string | undefined => (raw.indexOf('%') === -1 ? raw : decode(raw));

/** Whether a query parameter's name is one of the route's templated ones. */
function templated(route: Route, name: string): boolean {
  for (const p of route.query) if (p.name === name) return true;
  return false;
}
