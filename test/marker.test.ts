import { describe, expect, it } from 'vitest';
import { claim, finish, isReported, markerDir, markerLocations, markerState, RETRY_AFTER_MS, retryLater } from '../src/marker.js';
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
    expect(markerDir(pkgDir)).toMatchObject({ dir, pnp });
  });

  it('has no place outside an installed tree', () => {
    expect(markerDir('/home/me/acme-lib')).toBeUndefined();
  });
});

describe('markerLocations', () => {
  const PKG = '/app/node_modules/acme-lib';
  const id = () => 'acme-lib@2.3.4';
  const withSig = (sig: string, dir = PKG) => {
    const fs = new MemFs();
    fs.signatures.set(`${dir}/package.json`, sig);
    return fs;
  };

  it("names the file after the folder and its package.json's identity, primary then fallback", () => {
    const locs = markerLocations(PKG, withSig('66.1234.99.1.42').markerFs(), id, '/home/u/.cache/install-beacon/markers');
    expect(locs).toHaveLength(2);
    expect(locs[0]!.dir).toBe('/app/node_modules/.install-beacon');
    expect(locs[0]!.file).toMatch(/^\/app\/node_modules\/\.install-beacon\/acme-lib-[0-9a-f]{8}-66\.1234\.99\.1\.42\.json$/);
    expect(locs[1]!.file).toBe(`/home/u/.cache/install-beacon/markers/${locs[0]!.file.split('/').pop()}`);
  });

  it('differs when the package is installed again (a new package.json), and per folder', () => {
    const a = markerLocations(PKG, withSig('66.1.1.1.1').markerFs(), id)[0]!.file;
    const b = markerLocations(PKG, withSig('66.2.1.1.1').markerFs(), id)[0]!.file;
    const other = '/app/node_modules/x/node_modules/acme-lib';
    const c = markerLocations(other, withSig('66.1.1.1.1', other).markerFs(), id)[0]!.file;
    expect(new Set([a, b, c]).size).toBe(3);
  });

  it('reads only one stat outside PnP (name@version is not needed)', () => {
    const fs = withSig('1.1.1.1.1');
    let asked = 0;
    markerLocations(PKG, fs.markerFs(), () => (asked++, 'x@1'));
    expect(asked).toBe(0);
    expect(fs.calls).toEqual([`sig ${PKG}/package.json`]);
  });

  it('labels scoped packages with scope and name, and keeps hostile ids inside the folder', () => {
    const scoped = '/app/node_modules/@acme/lib';
    expect(markerLocations(scoped, withSig('1', scoped).markerFs(), id)[0]!.file).toMatch(/\/\.install-beacon\/_acme_lib-/);
    const pnp = markerLocations('/app/.yarn/cache/x.zip/node_modules/y', new MemFs().markerFs(), () => '../../etc/passwd@1/../..');
    expect(pnp[0]!.file.slice('/app/.yarn/.install-beacon/'.length)).not.toMatch(/[/\\]/);
  });

  it('under Yarn PnP, keys by project and name@version so the unplugged and zip paths agree', () => {
    const a = markerLocations('/app/.yarn/unplugged/acme-lib-npm-2.3.4-abc/node_modules/acme-lib', new MemFs().markerFs(), id);
    const b = markerLocations('/app/.yarn/cache/acme-lib-npm-2.3.4-abc-1a.zip/node_modules/acme-lib', new MemFs().markerFs(), id);
    expect(a[0]!.file).toBe(b[0]!.file);
    expect(a[0]!.file).toMatch(/-pnp\.json$/);
    const otherProject = markerLocations('/other/.yarn/cache/acme-lib-npm-2.3.4-abc-1a.zip/node_modules/acme-lib', new MemFs().markerFs(), id);
    expect(otherProject[0]!.file.split('/').pop()).not.toBe(a[0]!.file.split('/').pop());
  });

  it('is empty outside an installed tree or when package.json cannot be statted', () => {
    expect(markerLocations('/src/acme-lib', withSig('1', '/src/acme-lib').markerFs(), id)).toEqual([]);
    expect(markerLocations(PKG, new MemFs().markerFs(), id)).toEqual([]);
  });
});

describe('claim, finish, retryLater', () => {
  const primary = { dir: '/app/node_modules/.install-beacon', file: '/app/node_modules/.install-beacon/a.json' };
  const fallback = { dir: '/home/u/.cache/install-beacon/markers', file: '/home/u/.cache/install-beacon/markers/a.json' };

  it('claims once: the first caller wins, everyone after sees it taken', () => {
    const fs = new MemFs();
    const m = fs.markerFs();
    expect(markerState([primary], m, 0)).toBe('none');
    expect(claim([primary], m, 0)).toEqual({ result: 'claimed', location: primary });
    expect(markerState([primary], m, 0)).toBe('in-flight');
    expect(isReported([primary], m, 0)).toBe(true);
    for (let i = 0; i < 8; i++) expect(claim([primary], m, 0)).toEqual({ result: 'taken' });
  });

  it('finish records the outcome: reported for good, whatever the clock says', () => {
    const fs = new MemFs();
    const m = fs.markerFs();
    claim([primary], m, 0);
    finish(primary, m, { trigger: 'postinstall', status: 204, at: 0 });
    expect(JSON.parse(fs.files.get(primary.file)!)).toEqual({ trigger: 'postinstall', status: 204, at: '1970-01-01T00:00:00.000Z' });
    expect(markerState([primary], m, RETRY_AFTER_MS * 100)).toBe('reported');
    expect(claim([primary], m, RETRY_AFTER_MS * 100)).toEqual({ result: 'taken' });
  });

  it('an empty marker blocks others until RETRY_AFTER_MS, then exactly one caller takes it over', () => {
    const fs = new MemFs();
    const m = fs.markerFs();
    claim([primary], m, 0);
    expect(claim([primary], m, RETRY_AFTER_MS - 1)).toEqual({ result: 'taken' });
    expect(markerState([primary], m, RETRY_AFTER_MS)).toBe('stale');
    expect(isReported([primary], m, RETRY_AFTER_MS)).toBe(false);
    fs.clock = RETRY_AFTER_MS;
    expect(claim([primary], m, RETRY_AFTER_MS)).toEqual({ result: 'claimed', location: primary });
    expect(claim([primary], m, RETRY_AFTER_MS)).toEqual({ result: 'taken' });
    expect([...fs.files.keys()].filter((f) => f.endsWith('.stale'))).toEqual([]);
  });

  it('a takeover loses if another caller renamed the stale marker first', () => {
    const fs = new MemFs();
    const m = fs.markerFs();
    claim([primary], m, 0);
    const racing = { ...m, rename: () => false };
    expect(claim([primary], racing, RETRY_AFTER_MS)).toEqual({ result: 'taken' });
  });

  it('retryLater restarts the clock', () => {
    const fs = new MemFs();
    const m = fs.markerFs();
    claim([primary], m, 0);
    fs.clock = 5000;
    retryLater(primary, m);
    expect(markerState([primary], m, RETRY_AFTER_MS + 1000)).toBe('in-flight');
    expect(markerState([primary], m, RETRY_AFTER_MS + 5000)).toBe('stale');
  });

  it('creates the marker folder only when the first create fails', () => {
    const fs = new MemFs();
    claim([primary], fs.markerFs(), 0);
    expect(fs.calls).toEqual([`create ${primary.file}`, `mkdirp ${primary.dir}`, `create ${primary.file}`]);
    fs.calls = [];
    const other = { ...primary, file: `${primary.dir}/b.json` };
    claim([other], fs.markerFs(), 0);
    expect(fs.calls).toEqual([`create ${other.file}`]);
  });

  it('falls back to the cache dir when the tree is read-only, and sees that claim afterwards', () => {
    const fs = new MemFs();
    fs.readOnly.add('/app');
    const m = fs.markerFs();
    expect(claim([primary, fallback], m, 0)).toEqual({ result: 'claimed', location: fallback });
    expect(isReported([primary, fallback], m, 0)).toBe(true);
    expect(claim([primary, fallback], m, 0)).toEqual({ result: 'taken' });
  });

  it('reports unwritable when no location can be written', () => {
    const fs = new MemFs();
    fs.readOnly.add('/app');
    fs.readOnly.add('/home');
    expect(claim([primary, fallback], fs.markerFs(), 0)).toEqual({ result: 'unwritable' });
    expect(claim([], fs.markerFs(), 0)).toEqual({ result: 'unwritable' });
  });
});
