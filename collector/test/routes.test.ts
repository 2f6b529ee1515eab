import { describe, expect, it } from 'vitest';
import { compileRoute, DEFAULT_ROUTE, FIELDS, matchRequest, REJECTIONS, type Route } from '../src/routes.js';
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
    expect(m).toEqual({ ok: true, event: { package: '@acme/lib', vars: Object.fromEntries(VARIABLES.filter((v) => v !== 'name').map((v) => [v, values[v]])) } });
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
    ['/{name}/{nope}', false], // unknown variable: the hook's parser says so
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
    expect(matchRequest([route('acme-lib=/e/{version}')], 'GET', '/e/1.2.3')).toEqual({ ok: true, event: { package: 'acme-lib', vars: { version: '1.2.3' } } });
  });
});

describe('matchRequest: every rejection is a named reason with its status', () => {
  const ok = `/acme/1.0.0/linux/x64?ci=true&event_id=${ID}`;
  it.each([
    ['POST', ok, 'method', 405],
    ['PUT', ok, 'method', 405],
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
    // Query parameters by name, in any order; absent ones are not stored; unknown ones are ignored.
    ['GET', `/acme/1.0.0/linux/x64?event_id=${ID}&utm=x&ci=false`, { ci: 'false', event_id: ID }],
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
    expect(matchRequest(routes, 'GET', '/acme/v1?x=atrue')).toEqual({ ok: true, event: { package: 'acme', vars: { version: '1', ci: 'true' } } });
    expect(matchRequest(routes, 'GET', '/acme/v1?x=btrue')).toEqual({ ok: true, event: { package: 'acme', vars: { version: 'v1' } } });
  });

  it('FIELDS are every variable but name and event_id', () => {
    expect([...FIELDS, 'name', 'event_id'].sort()).toEqual([...VARIABLES].sort());
  });
});
