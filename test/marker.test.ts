import { describe, expect, it } from 'vitest';
import { claim, isReported, markerDir, markerLocation, release } from '../src/marker.js';
import { MemFs } from './support/memfs.js';

describe('markerDir', () => {
  it.each([
    ['/app/node_modules/acme-lib', '/app/node_modules/.install-beacon', false],
    ['/app/node_modules/a/node_modules/acme-lib', '/app/node_modules/.install-beacon', false],
    ['/app/node_modules/.pnpm/acme-lib@2.3.4/node_modules/acme-lib', '/app/node_modules/.install-beacon', false],
    ['/app/node_modules/@acme/lib', '/app/node_modules/.install-beacon', false],
    ['/usr/local/lib/node_modules/acme-lib', '/usr/local/lib/node_modules/.install-beacon', false],
    ['/app/.yarn/unplugged/acme-lib-npm-2.3.4-abc/node_modules/acme-lib', '/app/.yarn/.install-beacon', true],
    ['/app/.yarn/cache/acme-lib-npm-2.3.4-abc-1a.zip/node_modules/acme-lib', '/app/.yarn/.install-beacon', true],
    ['/app/.yarn/__virtual__/acme-lib-virtual-1/0/cache/x.zip/node_modules/acme-lib', '/app/.yarn/.install-beacon', true],
  ])('%s → %s', (pkgDir, dir, pnp) => {
    expect(markerDir(pkgDir)).toEqual({ dir, pnp });
  });

  it('has no place outside an installed tree', () => {
    expect(markerDir('/home/me/acme-lib')).toBeUndefined();
  });
});

describe('markerLocation', () => {
  const fs = new MemFs();
  fs.signatures.set('/app/node_modules/acme-lib', '66.1234.99');
  fs.signatures.set('/app/node_modules/@x/y', '66.99.1');

  it('names the file after the package, version and folder identity', () => {
    const loc = markerLocation('/app/node_modules/acme-lib', 'acme-lib', '2.3.4', fs.markerFs());
    expect(loc?.dir).toBe('/app/node_modules/.install-beacon');
    expect(loc?.file).toMatch(/^\/app\/node_modules\/\.install-beacon\/acme-lib_2\.3\.4-[0-9a-f]{8}-66\.1234\.99\.json$/);
  });

  it('differs when the folder is recreated (a new install of the same version)', () => {
    const a = markerLocation('/app/node_modules/acme-lib', 'acme-lib', '2.3.4', fs.markerFs());
    fs.signatures.set('/app/node_modules/acme-lib', '66.5678.100');
    const b = markerLocation('/app/node_modules/acme-lib', 'acme-lib', '2.3.4', fs.markerFs());
    expect(a?.file).not.toBe(b?.file);
  });

  it('differs per version and keeps hostile names inside the marker folder', () => {
    const m = markerFsWith('/app/node_modules/x', '1.1.1');
    const a = markerLocation('/app/node_modules/x', '../../etc/passwd', '1.0.0', m);
    const b = markerLocation('/app/node_modules/x', '../../etc/passwd', '1.0.1', m);
    expect(a?.file).not.toBe(b?.file);
    expect(a?.file.startsWith('/app/node_modules/.install-beacon/')).toBe(true);
    expect(a?.file.slice('/app/node_modules/.install-beacon/'.length)).not.toMatch(/[/\\]/);
  });

  it('uses a fixed signature under Yarn PnP (the package may live in a zip)', () => {
    const loc = markerLocation('/app/.yarn/cache/a.zip/node_modules/acme-lib', 'acme-lib', '2.3.4', new MemFs().markerFs());
    expect(loc?.file).toMatch(/-pnp\.json$/);
  });

  it('has no location when the package folder cannot be statted', () => {
    expect(markerLocation('/app/node_modules/gone', 'gone', '1.0.0', new MemFs().markerFs())).toBeUndefined();
  });
});

function markerFsWith(dir: string, sig: string) {
  const fs = new MemFs();
  fs.signatures.set(dir, sig);
  return fs.markerFs();
}

describe('claim', () => {
  const loc = { dir: '/app/node_modules/.install-beacon', file: '/app/node_modules/.install-beacon/a.json' };

  it('claims once: the first caller wins, everyone after sees it taken', () => {
    const fs = new MemFs();
    const m = fs.markerFs();
    expect(isReported(loc, m)).toBe(false);
    expect(claim(loc, m, 'postinstall', 0)).toBe('claimed');
    expect(isReported(loc, m)).toBe(true);
    for (let i = 0; i < 8; i++) expect(claim(loc, m, 'runtime', 0)).toBe('taken');
    expect(JSON.parse(fs.files.get(loc.file)!)).toEqual({ trigger: 'postinstall', at: '1970-01-01T00:00:00.000Z' });
  });

  it('creates the marker folder only when the first create fails', () => {
    const fs = new MemFs();
    claim(loc, fs.markerFs(), 'postinstall', 0);
    expect(fs.calls).toEqual([`create ${loc.file}`, `mkdirp ${loc.dir}`, `create ${loc.file}`]);
    fs.calls = [];
    const other = { ...loc, file: `${loc.dir}/b.json` };
    claim(other, fs.markerFs(), 'postinstall', 0);
    expect(fs.calls).toEqual([`create ${other.file}`]);
  });

  it('reports an unwritable tree', () => {
    const fs = new MemFs();
    fs.readOnly.add('/app');
    expect(claim(loc, fs.markerFs(), 'postinstall', 0)).toBe('unwritable');
    expect(isReported(loc, fs.markerFs())).toBe(false);
  });

  it('release lets the next trigger claim again', () => {
    const fs = new MemFs();
    const m = fs.markerFs();
    expect(claim(loc, m, 'postinstall', 0)).toBe('claimed');
    release(loc, m);
    expect(isReported(loc, m)).toBe(false);
    expect(claim(loc, m, 'runtime', 0)).toBe('claimed');
  });
});
