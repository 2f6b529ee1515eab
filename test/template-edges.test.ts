import { describe, expect, it } from 'vitest';
import { encodeValue, isLoopbackHost, parseTemplate, renderTemplate, VARIABLE_DOCS, VARIABLES, type Template } from '../src/template.js';

// The edges of URL templates that the main table (template.test.ts) does not
// reach: limits, error positions, the parts a template splits into, and
// non-ASCII text around the host. Found by mutation testing (npm run test:mutation).

const parse = (source: string): Template => {
  const r = parseTemplate(source);
  if (!r.ok) throw new Error(r.error);
  return r.template;
};
const error = (source: string): string => {
  const r = parseTemplate(source);
  expect(r.ok).toBe(false);
  return r.ok ? '' : r.error;
};

describe('limits and error messages', () => {
  it('a template of exactly 2048 characters is accepted; 2049 is refused', () => {
    const base = 'https://example.com/';
    expect(parseTemplate(base + 'a'.repeat(2048 - base.length)).ok).toBe(true);
    expect(error(base + 'a'.repeat(2049 - base.length))).toBe('the URL template is longer than 2048 characters');
  });

  it('the scheme must come first', () => {
    expect(error('xhttps://example.com/')).toBe('the URL template must start with https:// (or http:// for a loopback host)');
  });

  it.each([
    ['https://e.com/}', 'unexpected "}" at position 15'],
    ['https://e.com/a{', 'unexpected "{" at position 16'],
    ['https://e.com/{Name}', 'unexpected "{" at position 15'],
    ['https://e.com/{name-x}', 'unexpected "{" at position 15'],
    ['https://e.com/{name}x{}', 'unexpected "{" at position 22'],
  ])('%s: %s (1-based position of the character)', (source, message) => {
    expect(error(source)).toBe(message);
  });

  it('an unknown variable: the error lists every known one', () => {
    expect(error('https://e.com/{nmae}')).toBe(`unknown variable {nmae}; known: ${VARIABLES.map((v) => `{${v}}`).join(' ')}`);
    expect(error('https://e.com/{nmae}')).toContain('{name} {version} {platform}');
  });
});

describe('the parts of a template', () => {
  it.each([
    ['https://e.com/{name}{version}', [{ text: 'https://e.com/' }, { variable: 'name' }, { variable: 'version' }]],
    ['https://e.com/{name}/end', [{ text: 'https://e.com/' }, { variable: 'name' }, { text: '/end' }]],
    ['https://e.com/a?x={ci}&y={pm}', [{ text: 'https://e.com/a?x=' }, { variable: 'ci' }, { text: '&y=' }, { variable: 'pm' }]],
    ['https://e.com/static', [{ text: 'https://e.com/static' }]],
  ])('%s', (source, parts) => {
    expect(parse(source).parts).toEqual(parts);
  });

  it('text after the last variable is rendered', () => {
    expect(renderTemplate(parse('https://e.com/{name}/end?x=1'), { name: 'acme' })).toBe('https://e.com/acme/end?x=1');
  });
});

describe('non-ASCII text: percent-encoded as UTF-8 after the host, the host left as written', () => {
  it.each([
    ['https://bücher.example/ü/{name}', 'https://bücher.example/%C3%BC/acme'],
    ['https://bücher.example/{name}/ü', 'https://bücher.example/acme/%C3%BC'],
    ['https://e.com/📦/{name}?q=é', 'https://e.com/%F0%9F%93%A6/acme?q=%C3%A9'],
    ['https://e.com/a📦b/{name}', 'https://e.com/a%F0%9F%93%A6b/acme'],
    ['https://e.com/{name}{version}/ä', 'https://e.com/acme1.0/%C3%A4'],
    ['https://e.com/{pm_version}/ä', 'https://e.com/9/%C3%A4'],
  ])('%s → %s', (source, rendered) => {
    expect(renderTemplate(parse(source), { name: 'acme', version: '1.0', pm_version: '9' })).toBe(rendered);
  });

  it('the host of an internationalised template is not encoded (the origin is its punycode form)', () => {
    const t = parse('https://bücher.example/{name}');
    expect(t.origin).toBe('https://xn--bcher-kva.example');
    expect(t.parts[0]).toEqual({ text: 'https://bücher.example/' });
  });
});

describe('isLoopbackHost: only a whole loopback name or address', () => {
  it.each([
    ['127.0.0.1.example.com', false],
    ['x127.0.0.1', false],
    ['127.100.200.255', true],
    ['127.1.22.3', true],
    ['127.0.0.1000', false],
    // Brackets are stripped only as an IPv6 literal's wrapping, never from inside a name.
    ['local[host', false],
    ['local]host', false],
    ['[::1]', true],
  ])('%s → %s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });
});

describe('VARIABLE_DOCS (shown by check and --help)', () => {
  it('describes every variable, each differently', () => {
    expect(Object.keys(VARIABLE_DOCS).sort()).toEqual([...VARIABLES].sort());
    for (const v of VARIABLES) expect(VARIABLE_DOCS[v].length, v).toBeGreaterThan(8);
    expect(new Set(Object.values(VARIABLE_DOCS)).size).toBe(VARIABLES.length);
  });

  it.each([
    ['container', ['docker', 'podman', 'kubernetes', 'none']],
    ['pm', ['npm', 'pnpm', 'yarn', 'bun', 'unknown']],
    ['install', ['local', 'global']],
    ['libc', ['glibc', 'musl', 'none']],
    ['trigger', ['postinstall', 'runtime']],
    ['ci', ['true', 'false']],
  ] as const)('{%s} names the values it can take', (v, values) => {
    for (const value of values) expect(VARIABLE_DOCS[v]).toContain(value);
  });
});

describe('encodeValue: only a value made of dots alone has its dots escaped', () => {
  it.each([
    ['..', '%2E%2E'],
    ['.', '%2E'],
    ['a..', 'a..'],
    ['..a', '..a'],
    ['1.2.3', '1.2.3'],
  ])('%j → %s', (raw, encoded) => {
    expect(encodeValue(raw)).toBe(encoded);
  });
});
