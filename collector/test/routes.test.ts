import { describe, expect, it } from 'vitest';
import { parseRules } from '../src/accept.js';
import { checkEvent, checkValue, compileRoute, DEFAULT_ROUTE, FIELDS, isPackageName, matchRequest, REJECTIONS, type Route } from '../src/routes.js';
import { urlEvent } from '../src/ingest.js';
import { renderTemplate, VARIABLES } from '../../src/template.js';

const route = (spec: string): Route => {
  const r = compileRoute(spec);
  if (!r.ok) throw new Error(r.error);
  return r.route;
};
const DEFAULT = [route(DEFAULT_ROUTE)];
const ID = '0f8e7c1a-2b3c-4d5e-8f90-a1b2c3d4e5f6';

describe('the default route', () => {
  it('has name, version, platform and arch as path segments and every other variable as a query parameter of its own name', () => {
    expect(DEFAULT_ROUTE.startsWith('/{name}/{version}/{platform}/{arch}?')).toBe(true);
    const query = new URLSearchParams(DEFAULT_ROUTE.split('?')[1]);
    for (const v of VARIABLES.filter((x) => !['name', 'version', 'platform', 'arch'].includes(x))) expect(query.get(v)).toBe(`{${v}}`);
  });

  it('matches what install-beacon renders for it, every value decoded back', async () => {
    const { parseTemplate } = await import('../../src/template.js');
    const t = parseTemplate(`https://collector.example${DEFAULT_ROUTE}`);
    if (!t.ok) throw new Error(t.error);
    const values = Object.fromEntries(VARIABLES.map((v) => [v, `${v} value/ü?&=#%`]));
    values.name = '@acme/lib';
    values.event_id = ID;
    const url = renderTemplate(t.template, values).slice('https://collector.example'.length);
    const m = matchRequest(DEFAULT, 'GET', url);
    expect(m.ok && { ok: true, event: m.event }).toEqual({ ok: true, event: { package: '@acme/lib', vars: Object.fromEntries(VARIABLES.filter((v) => v !== 'name').map((v) => [v, values[v]])) } });
  });
});

describe('compileRoute', () => {
  it.each([
    ['https://acme.example/{name}/{version}', true],
    ['/{name}/{version}?ci={ci}', true],
    ['acme-lib=https://acme.example/acme/{version}', true],
    ['@acme/lib=/i/{version}', true],
    ['/acme/{version}', false], // no {name} and no PACKAGE=
    ['acme-lib=/{name}/{version}', false], // both
    ['/{name}/{nope}', true], // any variable name (Scarf Gateway's rules)
    ['/{name}/{no-pe}', false], // a template's variable names are letters, digits and "_"
    ['/{name}/{a}/{a}', false], // a variable given twice
    ['/{name}?p={+rest}', false], // {+x} spans path segments: not in the query
    ['/{name}/{package}', false], // the events export's own column
    ['/api/{name}', false], // the collector's own path
    ['/versions/{name}', false], // npm's counts paths, served by the read API
    ['/downloads/point/{name}', false],
    ['/downloads/range/{name}/{version}', false],
    ['/downloads/{name}/{version}', true], // not one of npm's paths
    ['/{name}?{ci}=1', false], // a variable as a parameter name
    ['http://example.com/{name}', false], // the hook refuses http:// for a non-loopback host
  ])('%s -> %s', (spec, ok) => {
    expect(compileRoute(spec).ok).toBe(ok);
  });

  it('a PACKAGE= route stores that package name', () => {
    const m = matchRequest([route('acme-lib=/e/{version}')], 'GET', '/e/1.2.3');
    expect(m.ok && m.event).toEqual({ package: 'acme-lib', vars: { version: '1.2.3' } });
  });
});

describe('matchRequest: every rejection is a named reason with its status', () => {
  const ok = `/acme/1.0.0/linux/x64?ci=true&event_id=${ID}`;
  it.each([
    ['PUT', ok, 'method', 405],
    ['DELETE', ok, 'method', 405],
    ['GET', '/acme/1.0.0/linux', 'no_route', 404],
    ['GET', '/acme/1.0.0/linux/x64/extra', 'no_route', 404],
    ['GET', '/', 'no_route', 404],
    ['GET', `/acme/1.0.0/linux/x64?ci=${'x'.repeat(2100)}`, 'uri_too_long', 414],
    ['GET', `/acme/${'x'.repeat(201)}/linux/x64`, 'value_too_long', 400],
    ['GET', `/acme/${'%C3%BC'.repeat(201)}/linux/x64`, 'value_too_long', 400],
    ['GET', '/acme/%00/linux/x64', 'control_chars', 400],
    ['GET', '/acme/a%0Ab/linux/x64', 'control_chars', 400],
    ['GET', '/acme/%C2%85/linux/x64', 'control_chars', 400],
    ['GET', '/acme/%FF/linux/x64', 'bad_encoding', 400],
    ['GET', '/acme/%C3/linux/x64', 'bad_encoding', 400],
    ['GET', '/acme/%ED%A0%80/linux/x64', 'bad_encoding', 400], // an encoded lone surrogate is not UTF-8
    ['GET', '/acme/%zz/linux/x64', 'bad_encoding', 400],
    ['GET', '/acme/\u00ff/linux/x64', 'raw_bytes', 400],
    ['GET', '/acme/a b/linux/x64', 'raw_bytes', 400],
    ['GET', '/acme/../linux/x64', 'dot_segment', 400],
    ['GET', '/acme/./linux/x64', 'dot_segment', 400],
    ['GET', '/acme/1/linux/x64?ci=a&ci=b', 'duplicate_param', 400],
  ])('%s %s -> %s', (method, url, reason, status) => {
    const m = matchRequest(DEFAULT, method, url);
    expect(m).toEqual({ ok: false, reason });
    expect(REJECTIONS[reason as keyof typeof REJECTIONS].status).toBe(status);
  });

  it.each([
    ['GET', ok, { ci: 'true', event_id: ID }],
    ['HEAD', ok, { ci: 'true', event_id: ID }],
    // Query parameters by name, in any order; absent ones are not stored; the others are stored under their own names.
    ['GET', `/acme/1.0.0/linux/x64?event_id=${ID}&utm=x&ci=false`, { ci: 'false', event_id: ID, utm: 'x' }],
    ['GET', '/acme/1.0.0/linux/x64', {}],
    ['GET', '/acme/%3Cscript%3E/linux/x64', { version: '<script>' }],
    ['GET', '/acme/%2E%2E/linux/x64', { version: '..' }], // an encoded value, not a path segment
    ['GET', `/acme/${'x'.repeat(200)}/linux/x64`, { version: 'x'.repeat(200) }],
  ])('%s %s is accepted', (method, url, extra) => {
    const m = matchRequest(DEFAULT, method, url);
    expect(m.ok).toBe(true);
    if (m.ok) {
      expect(m.event.package).toBe('acme');
      expect(m.event.vars).toEqual({ version: '1.0.0', platform: 'linux', arch: 'x64', ...extra });
    }
  });

  it('scoped names arrive as one encoded segment', () => {
    const m = matchRequest(DEFAULT, 'GET', '/%40acme%2Flib/1.0.0/linux/x64');
    expect(m.ok && m.event.package).toBe('@acme/lib');
  });

  it('the first route that matches wins; a query value that does not fit its pattern tries the next route', () => {
    const routes = [route('/{name}/v{version}?x=a{ci}'), route('/{name}/{version}')];
    const a = matchRequest(routes, 'GET', '/acme/v1?x=atrue');
    expect(a.ok && a.event).toEqual({ package: 'acme', vars: { version: '1', ci: 'true' } });
    // The second route does not name x: it is stored as sent.
    const b = matchRequest(routes, 'GET', '/acme/v1?x=btrue');
    expect(b.ok && b.event).toEqual({ package: 'acme', vars: { version: 'v1', x: 'btrue' } });
  });

  it('FIELDS are every variable but name and event_id', () => {
    expect([...FIELDS, 'name', 'event_id'].sort()).toEqual([...VARIABLES].sort());
  });
});

describe('any variable, within bounds: over them 400 and nothing matched', () => {
  const PY = [route('acme-py=/acme-py?version={version}&python={python}')];
  const many = (n: number) => Array.from({ length: n }, (_, i) => `v${i}=x`).join('&');
  it.each([
    [`/acme-py?${many(40)}`, true],
    [`/acme-py?${many(41)}`, 'too_many_vars'],
    [`/acme-py?${'n'.repeat(64)}=1`, true],
    [`/acme-py?${'n'.repeat(65)}=1`, 'bad_var_name'],
    ['/acme-py?a%20b=1', 'bad_var_name'],
    ['/acme-py?a[b]=1', 'bad_var_name'],
    ['/acme-py?=1', 'bad_var_name'],
    ['/acme-py?package=x', 'reserved_name'],
    ['/acme-py?received_at=x', 'reserved_name'],
    ['/acme-py?name=other', 'duplicate_var'], // the route fixes the package
    [`/acme-py?x=${'y'.repeat(201)}`, 'value_too_long'],
    ['/acme-py?x=%E2%80%AE', 'invisible_chars'],
    ['/acme-py?x=%0A', 'control_chars'],
    ['/acme-py?x=%FF', 'bad_encoding'],
    ['/acme-py?%FF=1', 'bad_encoding'],
  ])('%s -> %s', (url, want) => {
    const m = matchRequest(PY, 'GET', url);
    if (want === true) expect(m.ok).toBe(true);
    else {
      expect(m).toEqual({ ok: false, reason: want });
      expect(REJECTIONS[want as keyof typeof REJECTIONS].status).toBe(400);
    }
  });

  it("a query parameter named like a path variable is refused, not silently dropped", () => {
    expect(matchRequest(DEFAULT, 'GET', '/acme/1.0.0/linux/x64?version=2')).toEqual({ ok: false, reason: 'duplicate_var' });
    expect(matchRequest(DEFAULT, 'GET', '/acme/1.0.0/linux/x64?name=evil')).toEqual({ ok: false, reason: 'duplicate_var' });
  });

  it("the page's Python function: every variable it sends, install-beacon's and its own", () => {
    const m = matchRequest(PY, 'GET', '/acme-py?version=1.2.0&platform=Linux&python=3.11.2&arch=x86_64');
    expect(m.ok && m.event).toEqual({ package: 'acme-py', vars: { version: '1.2.0', python: '3.11.2', platform: 'Linux', arch: 'x86_64' } });
  });

  it('a path variable must be present; {+name} spans segments but not none', () => {
    const r = [route('/{name}/files/{+path}')];
    expect(matchRequest(r, 'GET', '/acme/files/a/b/c.tgz')).toMatchObject({ ok: true, event: { package: 'acme', vars: { path: 'a/b/c.tgz' } } });
    expect(matchRequest(r, 'GET', '/acme/files/')).toEqual({ ok: false, reason: 'no_route' });
    expect(matchRequest(r, 'GET', '//files/x')).toEqual({ ok: false, reason: 'no_route' });
  });
});

describe('per-route accept rules (--accept-package, --accept): checkEvent, whatever way the event came', () => {
  const rules = (packages: string[], accepts: string[], fixed?: string) => {
    const r = parseRules(packages, accepts, fixed, isPackageName);
    if (!r.ok) throw new Error(r.error);
    return r.value;
  };
  const restricted: Route = { ...route('/{name}/{version}'), rules: rules(['@acme/*', 'acme-lib'], ['version=semver', 'python=/3\\.\\d+(\\.\\d+)?/']) };
  const open = route('/{name}/{version}/x');
  it.each<[string, string | true, number?]>([
    ['/acme-lib/1.2.3', true],
    ['/%40acme%2Fcli/1.0.0-rc.1', true],
    ['/other/1.2.3', 'package_not_accepted', 404],
    ['/acme-lib/latest', 'value_not_accepted', 422],
    ['/acme-lib/1.2.3?python=3.12.1', true],
    ['/acme-lib/1.2.3?python=2.7', 'value_not_accepted', 422],
    ['/other/1.2.3/x', true], // another route's rules do not apply
  ])('%s -> %s', (url, want, status) => {
    const m = matchRequest([restricted, open], 'GET', url);
    if (want === true) expect(m.ok).toBe(true);
    else {
      expect(m).toEqual({ ok: false, reason: want });
      expect(REJECTIONS[want as keyof typeof REJECTIONS].status).toBe(status);
    }
  });
  it('a POST body event meets the same rules (checkEvent)', () => {
    expect(checkEvent(restricted, { package: 'acme-lib', vars: { version: 'nope' } })).toBe('value_not_accepted');
    expect(checkEvent(restricted, { package: 'acme-lib', vars: { version: '1.0.0', 'a.b': 'x' } })).toBeUndefined();
    expect(checkEvent(restricted, { package: 'acme-lib', vars: { 'a b': 'x' } })).toBe('bad_var_name');
  });
});

describe('compileRoute: every refusal says why, positions counted in the --route value as typed', () => {
  it.each([
    ['Not A Name=/x', '"Not A Name" is not a package name'],
    [`/{name}/${'x'.repeat(2048)}`, 'the template is longer than 2048 characters'],
    ['/{name} x', 'the template contains whitespace or control characters'],
    ['/{name}#top', 'the template has a fragment (#...), which is never sent'],
    ['https:///{name}', 'the template has no host'],
    ['https://{name}.example/x', 'variables are not allowed in the host; put them in the path or query'],
    ['https://u@acme.example/{name}', 'credentials in the URL are not allowed'],
    ['https://a%zz/{name}', 'the host "a%zz" is not valid'],
    ['http://acme.example/{name}', 'http:// is only allowed for loopback hosts (localhost, 127.0.0.1, [::1]); use https://acme.example'],
    ['{name}/x', 'the template must start with /, https:// or http://'],
    ['https://acme.example?{name}', 'the path must start with /'],
    ['/api/{name}', "/api, /badge, /healthz, /versions, /downloads/point and /downloads/range are the collector's own paths"],
    ['/{name}?{ci}=1', "a query parameter's name cannot be a variable"],
    ['/{name}?a={ci}&a={pm}', 'the query parameter "a" is given twice'],
    ['/{name}?a=%zz', 'the query parameter "a" is not valid percent-encoded UTF-8'],
    ['acme=/{name}', 'give either {name} in the template or PACKAGE=, not both'],
    ['/x/{version}', 'the template has no {name}; give it as PACKAGE=TEMPLATE'],
    [`/{name}?${Array.from({ length: 40 }, (_, i) => `p${i}={v${i}}`).join('&')}`, 'more than 40 variables'],
    ['/{name}/{a}/{a}', '{a} is given twice'],
    ['/{name}?p={+rest}', '{+rest} spans path segments: use it in the path, not the query'],
    ['/{name}/{received_at}', "{received_at} is reserved (the events export's own column); pick another name"],
    ['/{name}/x}', 'unexpected "}" at position 10'],
    ['/{name}?a=}', 'unexpected "}" at position 11'],
    ['/{name}/{', 'unexpected "{" at position 9 (a variable is {NAME} or {+NAME}, NAME of 1-64 letters, digits and "_")'],
  ])('%s', (spec, why) => {
    expect(compileRoute(spec)).toEqual({ ok: false, error: `--route ${spec}: ${why}` });
  });

  it('a full URL keeps its path and query; an empty path is /', () => {
    expect(route('acme=https://acme.example').display).toBe('/');
    expect(route('https://acme.example/{name}?a=1&b').fixed).toEqual(new Map([['a', '1'], ['b', '']]));
    expect(matchRequest([route('acme=/é/{version}')], 'GET', '/%C3%A9/1').ok).toBe(true);
  });

  it('checkEvent (a POST body event has no URL): a package that is a path or a sentence, a variable named name', () => {
    const r = route('/{name}');
    expect(checkEvent(r, { package: '../..', vars: {} })).toBe('dot_segment');
    expect(checkEvent(r, { package: 'a/./b', vars: {} })).toBe('dot_segment');
    expect(checkEvent(r, { package: 'a b', vars: {} })).toBe('bad_name');
    expect(checkEvent(r, { package: 'a\u0000', vars: {} })).toBe('bad_name');
    expect(checkEvent(r, { package: 'acme', vars: { name: 'x' } })).toBe('duplicate_var');
    expect(checkEvent(r, { package: 'acme', vars: { '': 'x' } })).toBe('bad_var_name');
    expect(checkEvent(r, { package: 'acme', vars: { package: 'x' } })).toBe('reserved_name');
    expect(checkEvent(r, { package: 'acme', vars: Object.fromEntries(Array.from({ length: 41 }, (_, i) => [`v${i}`, 'x'])) })).toBe('too_many_vars');
  });

  it('a query parameter without "=" is stored with an empty value; a route without {name} whose PACKAGE= is absent cannot be', () => {
    const m = matchRequest([route('acme=/a')], 'GET', '/a?flag');
    expect(m.ok && m.event.vars).toEqual({ flag: '' });
  });
});

// Issue 22: checkValue answers most values from one regex and their UTF-16 length; what it refuses
// and accepts around that shortcut's edges stays as before.
describe('checkValue at the edges of its shortcut', () => {
  it.each([
    ['200 ASCII characters', 'x'.repeat(200), undefined],
    ['201 ASCII characters', 'x'.repeat(201), 'value_too_long'],
    ['100 emoji (200 UTF-16 units)', '\u{1F600}'.repeat(100), undefined],
    ['101 emoji (202 UTF-16 units, 101 code points)', '\u{1F600}'.repeat(101), undefined],
    ['201 emoji', '\u{1F600}'.repeat(201), 'value_too_long'],
    ['a lone surrogate', `a\ud800b`, 'bad_encoding'],
    ['a lone surrogate past 200 units', `${'x'.repeat(250)}\udc00`, 'bad_encoding'],
    ['a C1 control (U+0085)', 'a\u0085', 'control_chars'],
    ['DEL', 'a\u007f', 'control_chars'],
    ['U+00A0 (no control)', 'a\u00a0b', undefined],
    ['a line separator', 'a\u2028', 'invisible_chars'],
    ['a right-to-left override', '\u202e1.0', 'invisible_chars'],
    ['U+202F (no bidi control)', 'a\u202fb', undefined],
    ['a byte-order mark', '\ufeff', 'invisible_chars'],
    ['empty', '', undefined],
  ])('%s', (_, value, expected) => {
    expect(checkValue(value)).toBe(expected);
  });
});

// Issue 22: a GET's event is built from matchRequest's result directly (it was checked whole there).
describe("urlEvent: a GET's event from its matched URL", () => {
  const [route] = [compileRoute(DEFAULT_ROUTE)].map((r) => (r.ok ? r.route : undefined));
  it.each([
    ['with event_id', '/bench-lib/1.0.0/linux/x64?ci=false&pm=npm&event_id=e-1', { package: 'bench-lib', eventId: 'e-1', vars: { version: '1.0.0', platform: 'linux', arch: 'x64', ci: 'false', pm: 'npm' }, receivedAt: 7 }],
    ['without event_id', '/bench-lib/1.0.0/linux/x64?ci=true', { package: 'bench-lib', eventId: null, vars: { version: '1.0.0', platform: 'linux', arch: 'x64', ci: 'true' }, receivedAt: 7 }],
    ['an empty event_id', '/@acme%2Fcore/2.0.0/darwin/arm64?event_id=', { package: '@acme/core', eventId: '', vars: { version: '2.0.0', platform: 'darwin', arch: 'arm64' }, receivedAt: 7 }],
    ['a variable of its own name, encoded', '/x/1/linux/x64?my%2Dvar=a%20b&event_id=q', { package: 'x', eventId: 'q', vars: { version: '1', platform: 'linux', arch: 'x64', 'my-var': 'a b' }, receivedAt: 7 }],
  ])('%s', (_, url, expected) => {
    const m = matchRequest([route!], 'GET', url);
    if (!m.ok) throw new Error(m.reason);
    expect(urlEvent(m.event, 7)).toEqual(expected);
  });
});
