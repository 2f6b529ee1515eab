import { describe, expect, it } from 'vitest';
import { DEFAULTS, parseConfig } from '../src/config.js';
import { DEFAULT_ROUTE } from '../src/routes.js';

const parse = (argv: string[], env: Record<string, string> = {}) => parseConfig(argv, env, '/srv');

describe('parseConfig', () => {
  it('defaults: port 7708, host 127.0.0.1, ./install-beacon.db, the default route, token from the database, not public', () => {
    const r = parse([]);
    if (r.ok !== true) throw new Error('expected ok');
    expect(r.config).toMatchObject({ port: 7708, host: '127.0.0.1', database: { kind: 'sqlite', file: '/srv/install-beacon.db' }, public: false, token: undefined, defaultRoute: true, retentionDays: DEFAULTS.retentionDays, rateLimit: DEFAULTS.rateLimit, trustProxy: false });
    expect(r.config.routes.map((x) => x.display)).toEqual([DEFAULT_ROUTE]);
  });

  it.each([
    [['--port', '0'], { port: 0 }],
    [['--port=8080', '--host', '0.0.0.0'], { port: 8080, host: '0.0.0.0' }],
    [['--db', 'data/x.db'], { database: { kind: 'sqlite', file: '/srv/data/x.db' } }],
    [['--database-url', 'postgres://u@h/db'], { database: { kind: 'postgres', url: 'postgres://u@h/db' } }],
    [['--public', '--trust-proxy', '--rate-limit', '0', '--retention-days', '30'], { public: true, trustProxy: true, rateLimit: 0, retentionDays: 30 }],
    [['--tls-cert', 'c.pem', '--tls-key', '/k.pem'], { tls: { cert: '/srv/c.pem', key: '/k.pem' } }],
  ])('%j', (argv, expected) => {
    const r = parse(argv);
    expect(r.ok).toBe(true);
    if (r.ok === true) expect(r.config).toMatchObject(expected);
  });

  it('DATABASE_URL selects PostgreSQL; INSTALL_BEACON_TOKEN is the read token', () => {
    const r = parse([], { DATABASE_URL: 'postgresql://x@y/z', INSTALL_BEACON_TOKEN: 'a-token-of-sixteen+' });
    expect(r.ok === true && r.config.database).toEqual({ kind: 'postgres', url: 'postgresql://x@y/z' });
    expect(r.ok === true && r.config.token).toBe('a-token-of-sixteen+');
  });

  it('--route is repeatable, in order', () => {
    const r = parse(['--route', '/{name}/{version}', '--route', 'acme=https://e.example/a/{version}?id={event_id}']);
    expect(r.ok === true && r.config.routes.map((x) => [x.package, x.display])).toEqual([[undefined, '/{name}/{version}'], ['acme', '/a/{version}?id={event_id}']]);
    expect(r.ok === true && r.config.defaultRoute).toBe(false);
  });

  it('--accept-package and --accept restrict the --route before them (before any --route: the default route)', () => {
    const r = parse(['--route', '/{name}/{version}', '--accept-package', '@acme/*', '--accept', 'version=semver', '--route', '/{name}/x', '--accept', 'python=3.11,3.12']);
    if (r.ok !== true) throw new Error(String(r.ok === false && r.error));
    const [a, b] = r.config.routes;
    expect([a!.rules.packages?.text, [...a!.rules.values.keys()]]).toEqual(['@acme/*', ['version']]);
    expect([b!.rules.packages, [...b!.rules.values.keys()]]).toEqual([undefined, ['python']]);
    const d = parse(['--accept-package', 'acme-lib']);
    expect(d.ok === true && d.config.routes.map((x) => x.rules.packages?.accepts('acme-lib'))).toEqual([true]);
  });

  it.each([
    [['--accept', 'version=semver', '--route', '/{name}/{version}'], /give it after the --route it restricts/],
    [['--route', 'acme=/a/{version}', '--accept-package', 'other'], /"acme" is not among its --accept-package other/],
    [['--route', '/{name}', '--accept-package', 'Not A Name'], /is not a package name/],
    [['--route', '/{name}', '--accept', 'v=/(/'], /not a regular expression/],
    [['--route', '/{name}', '--accept', 'v=a', '--accept', 'v=b'], /given twice/],
    [['--route', '/{name}', '--accept', 'name=x'], /--accept-package/],
    [['--port', 'x'], /--port must be a whole number/],
    [['--port', '70000'], /--port must be between/],
    [['--port'], /--port needs a value/],
    [['--port', '1', '--port', '2'], /given twice/],
    [['--nope'], /unknown option/],
    [['--db', 'a.db', '--database-url', 'postgres://x/y'], /not both/],
    [['--database-url', 'mysql://x/y'], /postgres:\/\//],
    [['--tls-cert', 'c.pem'], /go together/],
    [['--route', '/acme/{version}'], /no \{name\}/],
    [['--route', '/{name}/{bo-gus}'], /unexpected "\{" at position 9 /],
    [['--route', 'https://acme.example/{name}/{x'], /unexpected "\{" at position 29 /],
    [['--route', 'acme-lib=/v/{x'], /unexpected "\{" at position 13 /],
    [['--route', '/{name}?a={version}&b=}'], /unexpected "\}" at position 23$/],
    [['--rate-limit', '-1'], /whole number/],
  ])('%j is refused: %s', (argv, message) => {
    const r = parse(argv);
    expect(r.ok).toBe(false);
    if (r.ok === false) expect(r.error).toMatch(message);
  });

  it('a short INSTALL_BEACON_TOKEN is refused', () => {
    const r = parse([], { INSTALL_BEACON_TOKEN: 'short' });
    expect(r.ok === false && r.error).toMatch(/at least 16/);
  });

  it('--help', () => {
    expect(parse(['--help']).ok).toBe('help');
  });
});
