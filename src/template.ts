// URL templates: "https://host/{name}/{version}?ci={ci}". Parsing validates the
// whole template once; rendering percent-encodes every value so that no value
// can leave its path segment or query parameter.

export const VARIABLES = [
  'name', 'version', 'platform', 'arch', 'node', 'ci', 'ci_name', 'container',
  'pm', 'pm_version', 'install', 'direct', 'libc', 'libc_version', 'trigger', 'event_id', 'beacon_version',
] as const;

export type VarName = (typeof VARIABLES)[number];
export type Values = Record<VarName, string>;

/** What each variable means, for `check`'s Telemetry section and `--help`. */
export const VARIABLE_DOCS: Record<VarName, string> = {
  name: "the depending package's name",
  version: "the depending package's version",
  platform: 'operating system (linux, darwin, win32, ...)',
  arch: 'CPU architecture (x64, arm64, ...)',
  node: 'Node.js version',
  ci: 'whether the install runs in CI (true/false)',
  ci_name: 'which CI service, or none',
  container: 'docker, podman, kubernetes or none',
  pm: 'package manager (npm, pnpm, yarn, bun or unknown)',
  pm_version: "the package manager's version",
  install: 'local or global install',
  direct: 'true if the installing project asked for this package, false if another package pulled it in, or unknown (nothing else about the project is sent)',
  libc: 'glibc, musl or none',
  libc_version: "the C library's version on Linux (e.g. 2.36), or none",
  trigger: 'postinstall or runtime',
  event_id: 'a random UUID for this event, for de-duplication',
  beacon_version: 'the version of install-beacon',
};

export type Part = { text: string } | { variable: VarName };

export interface Template {
  source: string;
  parts: Part[];
  variables: Set<VarName>;
  /** Scheme, host and port, e.g. "https://acme.gateway.scarf.sh". */
  origin: string;
  host: string;
}

export type ParseResult = { ok: true; template: Template } | { ok: false; error: string };

const VARIABLE_SET: ReadonlySet<string> = new Set(VARIABLES);
const MAX_TEMPLATE = 2048;

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

export function parseTemplate(source: unknown): ParseResult {
  if (typeof source !== 'string') return { ok: false, error: 'the URL template must be a string' };
  if (source.length === 0) return { ok: false, error: 'the URL template is empty' };
  if (source.length > MAX_TEMPLATE) return { ok: false, error: `the URL template is longer than ${MAX_TEMPLATE} characters` };
  if (/[\s\u0000-\u001f\u007f]/.test(source)) return { ok: false, error: 'the URL template contains whitespace or control characters' };

  const scheme = /^(https?):\/\//i.exec(source);
  if (!scheme) return { ok: false, error: 'the URL template must start with https:// (or http:// for a loopback host)' };
  const afterScheme = source.slice(scheme[0].length);
  const authorityEnd = afterScheme.search(/[/?#]/);
  const authority = authorityEnd === -1 ? afterScheme : afterScheme.slice(0, authorityEnd);
  if (authority.length === 0) return { ok: false, error: 'the URL template has no host' };
  if (authority.includes('{')) return { ok: false, error: 'variables are not allowed in the host; put them in the path or query' };
  if (authority.includes('@')) return { ok: false, error: 'credentials in the URL are not allowed' };
  if (source.includes('#')) return { ok: false, error: 'the URL template has a fragment (#...), which is never sent' };

  const parts: Part[] = [];
  const variables = new Set<VarName>();
  let text = '';
  for (let i = 0; i < source.length; i++) {
    const ch = source[i];
    if (ch === '}') return { ok: false, error: `unexpected "}" at position ${i + 1}` };
    if (ch !== '{') {
      text += ch;
      continue;
    }
    const close = source.indexOf('}', i);
    // Equivalent mutants (npm run test:mutation): `close === -1` is tested twice, and
    // either test alone refuses an unclosed "{" (an empty name fails the pattern),
    // so turning one of them off, or the '' into any non-name, changes nothing.
    const name = close === -1 ? '' : source.slice(i + 1, close);
    if (close === -1 || !/^[a-z_]+$/.test(name)) return { ok: false, error: `unexpected "{" at position ${i + 1}` };
    if (!VARIABLE_SET.has(name)) return { ok: false, error: `unknown variable {${name}}; known: ${VARIABLES.map((v) => `{${v}}`).join(' ')}` };
    if (text) parts.push({ text });
    text = '';
    parts.push({ variable: name as VarName });
    variables.add(name as VarName);
    i = close;
  }
  if (text) parts.push({ text });

  let parsed: URL;
  try {
    parsed = new URL(scheme[0] + authority);
  } catch {
    return { ok: false, error: `the URL template's host "${authority}" is not valid` };
  }
  // Equivalent mutants: unreachable for http(s), whose URLs cannot parse with an
  // empty hostname (the authority is non-empty here); kept as a guard.
  if (!parsed.hostname) return { ok: false, error: 'the URL template has no host' };
  if (parsed.protocol === 'http:' && !isLoopbackHost(parsed.hostname)) {
    return { ok: false, error: `http:// is only allowed for loopback hosts (localhost, 127.0.0.1, [::1]); use https://${authority}` };
  }
  // Non-ASCII text after the host is sent as UTF-8 percent escapes, as a browser
  // would: Node refuses to send some of it raw and sends the rest as Latin-1 bytes.
  // Equivalent mutant: `part.variable.length - 2` below. Only the first text part
  // can hold the host (no variable may stand in it), so every part after a
  // variable starts past hostEnd however a variable's length is counted.
  const hostEnd = scheme[0].length + authority.length;
  let offset = 0;
  for (const part of parts) {
    if ('text' in part) {
      const keep = Math.max(0, Math.min(part.text.length, hostEnd - offset));
      offset += part.text.length;
      part.text = part.text.slice(0, keep) + encodeNonAscii(part.text.slice(keep));
    } else offset += part.variable.length + 2;
  }
  return { ok: true, template: { source, parts, variables, origin: parsed.origin, host: parsed.host } };
}

const fixSurrogates = (text: string): string => text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');

function encodeNonAscii(text: string): string {
  return text.replace(/[^\u0000-\u007f]+/g, (run) => encodeURIComponent(fixSurrogates(run)));
}

const MAX_VALUE = 200;

/**
 * Percent-encode one value so it stays inside its path segment or query
 * parameter: everything outside RFC 3986's unreserved set is encoded, lone
 * surrogates become U+FFFD (encodeURIComponent would throw), the value is
 * capped at 200 characters, and a value made only of dots is encoded so it can
 * never become a "." or ".." path segment.
 */
export function encodeValue(raw: string): string {
  let value = fixSurrogates(raw);
  if (value.length === 0) value = 'unknown';
  const chars = Array.from(value);
  // Equivalent mutants: `true` and `>=` here (cutting a value of 200 or fewer characters to 200 changes nothing).
  if (chars.length > MAX_VALUE) value = chars.slice(0, MAX_VALUE).join('');
  const encoded = encodeURIComponent(value).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  return /^\.+$/.test(encoded) ? encoded.replace(/\./g, '%2E') : encoded;
}

export function renderTemplate(template: Template, values: Partial<Values>): string {
  let out = '';
  // Equivalent mutant: 'unknown' → '' below (encodeValue sends an empty value as "unknown" anyway).
  for (const part of template.parts) {
    out += 'text' in part ? part.text : encodeValue(values[part.variable] ?? 'unknown');
  }
  return out;
}

// Variables the background sender computes after the install has moved on:
// they read files beyond what the decision reads (the project's manifests,
// Node's executable and its C library's loader). The hook's URL holds a mark
// for each, filled in by the sender (see hook.ts).
export const LATE_VARIABLES: ReadonlySet<VarName> = new Set(['direct', 'libc', 'libc_version']);

/** A late variable's mark, rendered (encoded) as %01direct%01: no computed value holds a control character, and only the author's own template text could. */
export const lateMark = (variable: VarName): string => `\u0001${variable}\u0001`;

/** The URL with each late variable's mark replaced by its encoded value. (Equivalent mutant: '' for 'unknown', which encodeValue sends as "unknown".) */
export function fillLate(url: string, values: Partial<Values>): string {
  return url.replace(/%01([a-z_]+)%01/g, (mark, variable: VarName) => (LATE_VARIABLES.has(variable) ? encodeValue(values[variable] ?? 'unknown') : mark));
}
