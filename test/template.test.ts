import { describe, expect, it } from 'vitest';
import { encodeValue, fillLate, isLoopbackHost, lateMark, LATE_VARIABLES, parseTemplate, renderTemplate, VARIABLES, type Values, type VarName } from '../src/template.js';

const valid: Array<[string, string]> = [
  ['https://acme.gateway.scarf.sh/acme-lib/{version}/{platform}/{arch}?ci={ci}&container={container}', 'acme.gateway.scarf.sh'],
  ['https://example.com', 'example.com'],
  ['https://example.com:8443/{name}', 'example.com:8443'],
  ['HTTPS://Example.COM/x', 'example.com'],
  ['http://127.0.0.1:7707/{name}', '127.0.0.1:7707'],
  ['http://localhost/{name}', 'localhost'],
  ['http://[::1]:9/{name}', '[::1]:9'],
  ['https://example.com/?v={version}', 'example.com'],
  [`https://example.com/${VARIABLES.map((v) => `{${v}}`).join('/')}`, 'example.com'],
];

const invalid: Array<[unknown, RegExp]> = [
  [undefined, /must be a string/],
  [42, /must be a string/],
  ['', /empty/],
  ['ftp://example.com/x', /must start with https:\/\//],
  ['example.com/{name}', /must start with https:\/\//],
  ['https:///path', /no host/],
  ['https://', /no host/],
  ['http://example.com/{name}', /only allowed for loopback/],
  ['http://10.0.0.1/{name}', /only allowed for loopback/],
  ['https://example.com/{nmae}', /unknown variable \{nmae\}/],
  ['https://example.com/{Name}', /unexpected "\{"/],
  ['https://example.com/{name', /unexpected "\{"/],
  ['https://example.com/name}', /unexpected "\}"/],
  ['https://example.com/{}', /unexpected "\{"/],
  ['https://{name}.example.com/', /not allowed in the host/],
  ['https://user:pw@example.com/', /credentials/],
  ['https://example.com/x#frag', /fragment/],
  ['https://example.com/a b', /whitespace/],
  ['https://example.com/a\nb', /whitespace/],
  [`https://example.com/${'a'.repeat(3000)}`, /longer than/],
  ['https://exa mple.com/', /whitespace/],
  ['https://exa%mple.com/', /not valid/],
];

describe('parseTemplate', () => {
  it.each(valid)('accepts %s', (source, host) => {
    const result = parseTemplate(source);
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.template.host).toBe(host);
  });

  it.each(invalid)('rejects %j', (source, message) => {
    const result = parseTemplate(source);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(message);
  });

  it('collects the variables used', () => {
    const result = parseTemplate('https://e.com/{name}/{version}?a={name}&b={ci}');
    expect(result.ok && [...result.template.variables]).toEqual(['name', 'version', 'ci']);
  });
});

describe('renderTemplate', () => {
  it('renders every variable', () => {
    const values = Object.fromEntries(VARIABLES.map((v) => [v, `v-${v}`])) as Values;
    const result = parseTemplate(`https://e.com/${VARIABLES.map((v) => `{${v}}`).join('/')}?x={ci}`);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(renderTemplate(result.template, values)).toBe(`https://e.com/${VARIABLES.map((v) => `v-${v}`).join('/')}?x=v-ci`);
  });

  it('renders a missing value as "unknown"', () => {
    const result = parseTemplate('https://e.com/{name}');
    expect(result.ok && renderTemplate(result.template, {})).toBe('https://e.com/unknown');
  });
});

describe('encodeValue', () => {
  it.each([
    ['acme-lib', 'acme-lib'],
    ['2.3.4', '2.3.4'],
    ['1.0.0-beta.1+build.5', '1.0.0-beta.1%2Bbuild.5'],
    ['@scope/pkg', '%40scope%2Fpkg'],
    ['a/b', 'a%2Fb'],
    ['a?b=c&d', 'a%3Fb%3Dc%26d'],
    ['a#b', 'a%23b'],
    ['100%', '100%25'],
    ['a b', 'a%20b'],
    ['a\r\nX-Injected: 1', 'a%0D%0AX-Injected%3A%201'],
    ["it's (ok)*!", 'it%27s%20%28ok%29%2A%21'],
    ['ünï', '%C3%BCn%C3%AF'],
    ['😀', '%F0%9F%98%80'],
    ['\ud800', '%EF%BF%BD'],
    ['a\udc00b', 'a%EF%BF%BDb'],
    ['.', '%2E'],
    ['..', '%2E%2E'],
    ['...', '%2E%2E%2E'],
    ['../etc', '..%2Fetc'],
    ['', 'unknown'],
  ])('%j → %s', (raw, expected) => {
    expect(encodeValue(raw)).toBe(expected);
  });

  it('caps a value at 200 characters', () => {
    expect(encodeValue('x'.repeat(10_000))).toBe('x'.repeat(200));
    expect(decodeURIComponent(encodeValue('é'.repeat(10_000)))).toBe('é'.repeat(200));
  });

  it('never produces a character outside the unreserved set or a percent escape', () => {
    const nasty = ['/..', '?#%', ' \n\t', 'ö/ä', '\u0000\u001f', '{name}', 'a'.repeat(300)];
    for (const raw of nasty) expect(encodeValue(raw)).toMatch(/^([A-Za-z0-9._~-]|%[0-9A-F]{2})+$/);
  });
});

describe('isLoopbackHost', () => {
  it.each([
    ['localhost', true], ['LOCALHOST', true], ['127.0.0.1', true], ['127.1.2.3', true], ['[::1]', true], ['::1', true],
    ['localhost.example.com', false], ['128.0.0.1', false], ['10.0.0.1', false], ['example.com', false], ['[::2]', false],
  ])('%s → %s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });
});

describe('late variables: marked by the hook, filled in by the background sender', () => {
  const parsed = parseTemplate('https://e.com/{name}/{libc}?d={direct}&v={libc_version}&p={platform}');
  if (!parsed.ok) throw new Error(parsed.error);
  const marked = renderTemplate(parsed.template, { name: 'acme-lib', platform: 'linux', ...Object.fromEntries([...LATE_VARIABLES].map((v) => [v, lateMark(v)])) });

  it('a mark survives rendering as %01<name>%01', () => {
    expect(marked).toBe('https://e.com/acme-lib/%01libc%01?d=%01direct%01&v=%01libc_version%01&p=linux');
  });

  it.each([
    ['every value', { direct: 'true', libc: 'musl', libc_version: '1.2.3' }, 'https://e.com/acme-lib/musl?d=true&v=1.2.3&p=linux'],
    ['a value missing: unknown, as renderTemplate sends it', { direct: 'false', libc: 'glibc' }, 'https://e.com/acme-lib/glibc?d=false&v=unknown&p=linux'],
    ['values encoded as renderTemplate encodes them', { direct: 'a/b', libc: '..', libc_version: 'x y' }, 'https://e.com/acme-lib/%2E%2E?d=a%2Fb&v=x%20y&p=linux'],
  ] as Array<[string, Partial<Values>, string]>)('%s', (_name, values, expected) => {
    expect(fillLate(marked, values)).toBe(expected);
    // The same as rendering with those values in the first place.
    expect(expected).toBe(renderTemplate(parsed.template, { name: 'acme-lib', platform: 'linux', ...values }));
  });

  it('leaves a mark of a variable that is not late alone', () => {
    expect(fillLate('https://e.com/%01name%01/%01direct%01', { name: 'x' as never, direct: 'true' } as Partial<Values>)).toBe('https://e.com/%01name%01/true');
    expect([...LATE_VARIABLES].every((v: VarName) => VARIABLES.includes(v))).toBe(true);
  });
});
