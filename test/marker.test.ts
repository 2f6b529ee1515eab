import { describe, expect, it } from 'vitest';
import { claim, finish, fnv1a, isReported, LOCK_EXPIRES_MS, markerLocation, markerState, pathInTree, pruneGone, RETRY_AFTER_MS, retryLater, underFreshLayer, type MarkerFs, type MarkerStat } from '../src/marker.js';
import { MemFs } from './support/memfs.js';

const SITE = { markerDir: '/app/node_modules/.install-beacon', treeRoot: '/app', pkgDir: '/app/node_modules/acme-lib' };

describe('markerLocation', () => {
  it('names the file after name@version only: one marker per version per tree, wherever the copy is', () => {
    const top = markerLocation(SITE, 'acme-lib', '2.3.4');
    const nested = markerLocation({ ...SITE, pkgDir: '/app/node_modules/mid-a/node_modules/acme-lib' }, 'acme-lib', '2.3.4');
    expect(top.file).toMatch(/^\/app\/node_modules\/\.install-beacon\/acme-lib@2\.3\.4-[0-9a-f]{8}\.json$/);
    expect(nested.file).toBe(top.file);
    expect(markerLocation(SITE, 'acme-lib', '2.3.5').file).not.toBe(top.file);
  });

  it('records the package path inside the tree (for pruning), and nothing for a package outside it', () => {
    expect(markerLocation(SITE, 'a', '1')).toMatchObject({ tree: '/app', path: 'node_modules/acme-lib' });
    expect(markerLocation({ markerDir: '/app/.yarn/.install-beacon', treeRoot: '/app', pkgDir: '/home/u/.yarn/berry/cache/a.zip/node_modules/a' }, 'a', '1').path).toBeUndefined();
  });

  it.each([
    ['a marker folder alone', { markerDir: '/m' }],
    ['no package folder', { markerDir: '/m', treeRoot: '/app' }],
    ['no tree', { markerDir: '/m', pkgDir: '/app/node_modules/a' }],
  ])('records no tree and no path without both a tree and a package folder: %s', (_n, site) => {
    const location = markerLocation(site, 'a', '1');
    expect(Object.keys(location).sort()).toEqual(['dir', 'file']);
  });

  it('has no path in its name (the tree can be moved) and keeps hostile ids inside the folder', () => {
    const a = markerLocation({ markerDir: '/x/node_modules/.install-beacon' }, 'acme-lib', '2.3.4');
    const b = markerLocation({ markerDir: '/y/node_modules/.install-beacon' }, 'acme-lib', '2.3.4');
    expect(a.file.split('/').pop()).toBe(b.file.split('/').pop());
    const hostile = markerLocation(SITE, '../../etc/passwd', '1/../..');
    expect(hostile.file.slice(`${SITE.markerDir}/`.length)).not.toMatch(/[/\\]/);
    expect(markerLocation(SITE, '@acme/lib', '1.0.0').file).toMatch(/\/@acme_lib@1\.0\.0-[0-9a-f]{8}\.json$/);
  });
});

describe('fnv1a and the file name', () => {
  // The marker's file name is an on-disk format: a later install-beacon must
  // find the markers an earlier one wrote. Published FNV-1a (32-bit) vectors.
  it.each([
    ['', '811c9dc5'],
    ['a', 'e40c292c'],
    ['foobar', 'bf9cf968'],
    ['x2', '0f630cef'], // below 0x10000000: padded to eight digits
  ])('fnv1a(%j) = %s', (text, hash) => {
    expect(fnv1a(text)).toBe(hash);
  });

  it.each([
    ['a run of unsafe characters becomes one _', 'x  /y', '1.0.0', 'x_y@1.0.0'],
    ['a long name is cut at 80 characters', 'n'.repeat(100), '1.0.0', 'n'.repeat(80)],
  ])('%s', (_n, name, version, prefix) => {
    const file = markerLocation(SITE, name, version).file;
    expect(file).toBe(`${SITE.markerDir}/${prefix}-${fnv1a(`${name}@${version}`)}.json`);
  });
});

describe('pathInTree', () => {
  it.each([
    ['/app', '/app/node_modules/a', 'node_modules/a'],
    ['/app/', '/app/node_modules/a', 'node_modules/a'],
    ['/app//', '/app/node_modules/a', 'node_modules/a'],
    ['/', '/node_modules/a', 'node_modules/a'],
    ['C:\\app', 'C:\\app\\node_modules\\@s\\a', 'node_modules/@s/a'],
    ['/app', '/application/node_modules/a', undefined],
    ['/app', '/home/u/.yarn/berry/cache/a.zip/node_modules/a', undefined],
  ])('(%s, %s) → %s', (tree, pkgDir, rel) => {
    expect(pathInTree(tree, pkgDir)).toBe(rel);
  });
});

describe('markerState: which copies a marker covers', () => {
  // Computed in each test, not while the file is collected: code run during
  // collection makes its mutants "static" for StrykerJS, which then runs every
  // test against each of them instead of only the tests that reach them.
  const loc = () => markerLocation(SITE, 'acme-lib', '2.3.4');
  const at = (clock: number, content: string) => {
    const fs = new MemFs();
    fs.clock = clock;
    fs.write(loc().file, content);
    return fs.markerFs();
  };
  it.each([
    ['no marker: none', undefined, 0, 0, 'none'],
    ['reported; package.json older (npm rebuild, a container from the image): reported', '{"status":204}', 1000, 500, 'reported'],
    ['reported; package.json as old as the marker (coarse mtimes): reported', '{"status":204}', 1000, 1000, 'reported'],
    ['reported; package.json newer (this version was installed again): outdated', '{"status":204}', 1000, 1001, 'outdated'],
    ['empty, young: a send in flight: in-flight', '', 1000, 500, 'in-flight'],
    ['empty, older than RETRY_AFTER_MS: a failed send: stale', '', 1000 - RETRY_AFTER_MS, 0 - RETRY_AFTER_MS, 'stale'],
    ['empty, package.json newer: outdated', '', 1000, 2000, 'outdated'],
    ['not ours (unreadable as JSON), package.json newer: judged by the times: outdated', 'garbage', 1000, 2000, 'outdated'],
    ['JSON null, package.json newer: outdated', 'null', 1000, 2000, 'outdated'],
  ] as const)('%s', (_n, content, mtime, pkgMtime, expected) => {
    const fs = content === undefined ? new MemFs().markerFs() : at(mtime, content);
    expect(markerState(loc(), fs, 1000, pkgMtime)).toBe(expected);
    expect(isReported(loc(), fs, 1000, pkgMtime)).toBe(expected === 'reported' || expected === 'in-flight');
  });
});

describe('markerState: a package folder created after the marker (bun, yarn 4: package.json keeps an old mtime)', () => {
  type Times = Omit<MarkerStat, 'size'>;
  const loc = () => markerLocation(SITE, 'acme-lib', '2.3.4');
  /** A marker reported by node_modules/acme-lib, with the times of the marker, the package folder and its package.json as a file system reports them. */
  const fsWith = (marker: Times, folder: Times | undefined, pkgCtime = 2000, content = '{"status":204,"path":"node_modules/acme-lib"}\n') => {
    const mem = new MemFs();
    mem.write(loc().file, content);
    const base = mem.markerFs();
    const stats: string[] = [];
    const fs: MarkerFs = {
      ...base,
      stat: (file) => {
        stats.push(file);
        if (file === loc().file) return { size: Buffer.byteLength(content), ...marker };
        // package.json: as old as the store or zip it came from; its ctime is when it was put here.
        if (file === `${SITE.pkgDir}/package.json`) return folder && { size: 100, mtimeMs: 500, ctimeMs: pkgCtime, birthtimeMs: pkgCtime };
        return file === SITE.pkgDir ? (folder && { size: 4096, ...folder }) : base.stat(file);
      },
    };
    return { fs, stats };
  };
  // The marker as this tree wrote it: born at its claim (990), last written at 1000, ctime = mtime.
  const written = { mtimeMs: 1000, ctimeMs: 1000, birthtimeMs: 990 };
  it.each([
    ['bun re-add (package.json linked from its cache) or yarn 4 unplugged again: a folder born after the marker, package.json put in it: outdated', written, { birthtimeMs: 2000, mtimeMs: 2000, ctimeMs: 2000 }, 2000, 'outdated'],
    ['the folder born before the marker and written since (npm rebuild, a build output, another package added): reported', written, { birthtimeMs: 900, mtimeMs: 3000, ctimeMs: 3000 }, 900, 'reported'],
    ['born in the same tick as the marker was written (coarse times): reported', written, { birthtimeMs: 1000, mtimeMs: 1000, ctimeMs: 1000 }, 1000, 'reported'],
    ['cp -a, docker cp, an image layer pulled elsewhere: everything born at the copy, mtimes kept, the marker\'s ctime later: reported', { mtimeMs: 1000, ctimeMs: 5000, birthtimeMs: 5000 }, { birthtimeMs: 5000, mtimeMs: 5000, ctimeMs: 5000 }, 5000, 'reported'],
    ['chown -R or chmod -R after the report (the marker\'s ctime moved): judged by package.json alone: reported', { mtimeMs: 1000, ctimeMs: 3000, birthtimeMs: 990 }, { birthtimeMs: 2000, mtimeMs: 2000, ctimeMs: 3000 }, 3000, 'reported'],
    ['a copy of the folder that kept its times (born after its own mtime): reported', written, { birthtimeMs: 2000, mtimeMs: 500, ctimeMs: 2000 }, 2000, 'reported'],
    ['an overlay copy-up of the folder (a file written in it in a container; package.json still the lower layer\'s): reported', written, { birthtimeMs: 2000, mtimeMs: 2500, ctimeMs: 2500 }, 400, 'reported'],
    ['no birth times on this file system (0): reported', { mtimeMs: 1000, ctimeMs: 1000, birthtimeMs: 0 }, { birthtimeMs: 0, mtimeMs: 2000, ctimeMs: 2000 }, 2000, 'reported'],
    ['the ctime in place of the birth time (Linux without statx): the marker is not born before its write: reported', { mtimeMs: 1000, ctimeMs: 1000, birthtimeMs: 1000 }, { birthtimeMs: 2000, mtimeMs: 2000, ctimeMs: 2000 }, 2000, 'reported'],
    // yarn 4 nodeLinker pnpm, remove then add (issue 19): its node_modules/.store/<x>/package folder is born anew with yarn's fixed time (456789000 s, 1984).
    ['yarn 4 re-add, nodeLinker pnpm: a folder born after the marker with yarn\'s fixed 1984 time: outdated', { mtimeMs: 1.8e12, ctimeMs: 1.8e12, birthtimeMs: 1.8e12 - 10 }, { birthtimeMs: 1.8e12 + 7000, mtimeMs: 456789e6, ctimeMs: 1.8e12 + 7000 }, 1.8e12 + 7000, 'outdated'],
    ['a copy of the folder that kept another old time: reported', { mtimeMs: 1.8e12, ctimeMs: 1.8e12, birthtimeMs: 1.8e12 - 10 }, { birthtimeMs: 1.8e12 + 7000, mtimeMs: 456789e6 + 1000, ctimeMs: 1.8e12 + 7000 }, 1.8e12 + 7000, 'reported'],
    ['times not reported at all: reported', { mtimeMs: 1000 }, { mtimeMs: 2000 }, 2000, 'reported'],
    ['the package folder is gone: reported', written, undefined, 2000, 'reported'],
  ] as const)('%s', (_n, marker, folder, pkgCtime, expected) => {
    const { fs } = fsWith(marker, folder, pkgCtime);
    // package.json as old as the store or zip it came from.
    expect(markerState(loc(), fs, 5000, 500)).toBe(expected);
  });

  it('a reborn folder whose package.json cannot be stat-ed (removed meanwhile) is not a reinstall, and nothing throws', () => {
    const { fs } = fsWith(written, { birthtimeMs: 2000, mtimeMs: 2000, ctimeMs: 2000 });
    const gone: MarkerFs = { ...fs, stat: (file) => (file === `${SITE.pkgDir}/package.json` ? undefined : fs.stat(file)) };
    expect(markerState(loc(), gone, 5000, 500)).toBe('reported');
  });

  it('a copy at another path born after the marker (a nested copy added later) is covered; the reporting path reborn is not', () => {
    const nested = markerLocation({ ...SITE, pkgDir: '/app/node_modules/mid-b/node_modules/acme-lib' }, 'acme-lib', '2.3.4');
    const { fs } = fsWith(written, { birthtimeMs: 2000, mtimeMs: 2000, ctimeMs: 2000 });
    const nestedFs: MarkerFs = { ...fs, stat: (f) => fs.stat(f.replace('/app/node_modules/mid-b/node_modules/acme-lib', SITE.pkgDir)) };
    expect(markerState(nested, nestedFs, 5000, 500)).toBe('reported');
    expect(markerState(loc(), fs, 5000, 500)).toBe('outdated');
  });

  it('an empty marker (a send in flight: born when last written) is not judged by the folder: in-flight', () => {
    const { fs } = fsWith({ mtimeMs: 1000, ctimeMs: 1000, birthtimeMs: 1000 }, { birthtimeMs: 2000, mtimeMs: 2000, ctimeMs: 2000 }, 2000, '');
    expect(markerState(loc(), fs, 1500, 500)).toBe('in-flight');
  });

  it('no package path (yarn 4 global cache): the folder is never looked at', () => {
    const { fs, stats } = fsWith(written, { birthtimeMs: 2000, mtimeMs: 2000, ctimeMs: 2000 });
    expect(markerState({ ...loc(), path: undefined }, fs, 5000, 500)).toBe('reported');
    expect(stats).toEqual([loc().file]);
  });

  it('stats the folder only when package.json is not newer and the marker is the file this tree wrote', () => {
    const folder = { birthtimeMs: 900, mtimeMs: 900, ctimeMs: 900 };
    const copied = fsWith({ mtimeMs: 1000, ctimeMs: 5000, birthtimeMs: 5000 }, folder);
    markerState(loc(), copied.fs, 5000, 500);
    const newer = fsWith(written, folder);
    markerState(loc(), newer.fs, 5000, 2000);
    const inPlace = fsWith(written, folder);
    markerState(loc(), inPlace.fs, 5000, 500);
    expect([copied.stats, newer.stats, inPlace.stats]).toEqual([[loc().file], [loc().file], [loc().file, SITE.pkgDir]]);
  });

  it('a reborn folder is claimed again, once; the marker finished after it covers it', () => {
    const mem = new MemFs();
    const base = mem.markerFs();
    const times = new Map<string, Omit<MarkerStat, 'size'>>();
    // Each write gives the marker mtime = ctime = the clock; its birth is its first write.
    const fs: MarkerFs = {
      ...base,
      stat: (f) => {
        const s = base.stat(f);
        if (f === SITE.pkgDir) return { size: 4096, birthtimeMs: 2000, mtimeMs: 2000, ctimeMs: 2000 };
        if (f === `${SITE.pkgDir}/package.json`) return { size: 100, birthtimeMs: 500, mtimeMs: 500, ctimeMs: 2000 };
        return s && { ...s, ctimeMs: s.mtimeMs, birthtimeMs: times.get(f)?.birthtimeMs ?? s.mtimeMs };
      },
    };
    mem.clock = 990;
    expect(claim(loc(), fs, 990, 500)).toEqual({ result: 'claimed', location: loc() });
    times.set(loc().file, { mtimeMs: 990, birthtimeMs: 990 });
    mem.clock = 1000;
    finish(loc(), fs, { trigger: 'postinstall', status: 204, at: 1000 });
    mem.clock = 3000;
    expect(claim(loc(), fs, 3000, 500)).toEqual({ result: 'claimed', location: loc() });
    expect(claim(loc(), fs, 3000, 500)).toEqual({ result: 'taken' });
    mem.clock = 3010;
    finish(loc(), fs, { trigger: 'runtime', status: 204, at: 3010 });
    expect(markerState(loc(), fs, 3010, 500)).toBe('reported');
  });
});

describe('claim, finish, retryLater', () => {
  const primary = { dir: '/app/node_modules/.install-beacon', file: '/app/node_modules/.install-beacon/a.json', tree: '/app', path: 'node_modules/a' };

  it('claims once: the first caller wins, everyone after sees it taken', () => {
    const fs = new MemFs();
    const m = fs.markerFs();
    expect(markerState(primary, m, 0, 0)).toBe('none');
    expect(claim(primary, m, 0, 0)).toEqual({ result: 'claimed', location: primary });
    expect(markerState(primary, m, 0, 0)).toBe('in-flight');
    for (let i = 0; i < 8; i++) expect(claim(primary, m, 0, 0)).toEqual({ result: 'taken' });
  });

  it('finish records the outcome (trigger, status, time, path): reported for good, whatever the clock says', () => {
    const fs = new MemFs();
    const m = fs.markerFs();
    claim(primary, m, 0, 0);
    finish(primary, m, { trigger: 'postinstall', status: 204, at: 0 });
    expect(fs.files.get(primary.file)).toBe('{"trigger":"postinstall","status":204,"at":"1970-01-01T00:00:00.000Z","path":"node_modules/a"}\n');
    expect(markerState(primary, m, RETRY_AFTER_MS * 100, 0)).toBe('reported');
    expect(claim(primary, m, RETRY_AFTER_MS * 100, 0)).toEqual({ result: 'taken' });
  });

  it('an empty marker blocks others until RETRY_AFTER_MS, then exactly one caller takes it over and no lock is left', () => {
    const fs = new MemFs();
    const m = fs.markerFs();
    claim(primary, m, 0, 0);
    expect(claim(primary, m, RETRY_AFTER_MS - 1, 0)).toEqual({ result: 'taken' });
    expect(markerState(primary, m, RETRY_AFTER_MS, 0)).toBe('stale');
    fs.clock = RETRY_AFTER_MS;
    expect(claim(primary, m, RETRY_AFTER_MS, 0)).toEqual({ result: 'claimed', location: primary });
    expect(claim(primary, m, RETRY_AFTER_MS, 0)).toEqual({ result: 'taken' });
    expect([...fs.files.keys()]).toEqual([primary.file]);
  });

  it('a reinstall (package.json newer than a reported marker) is claimed again, once', () => {
    const fs = new MemFs();
    const m = fs.markerFs();
    claim(primary, m, 0, 0);
    finish(primary, m, { trigger: 'postinstall', status: 204, at: 0 });
    fs.clock = 5000;
    expect(claim(primary, m, 5000, 4000)).toEqual({ result: 'claimed', location: primary });
    expect(fs.files.get(primary.file)).toBe('');
    expect(claim(primary, m, 5000, 4000)).toEqual({ result: 'taken' });
  });

  it('a newer copy at another path in the tree (a nested copy added later) is covered; the reporting path reinstalled is not', () => {
    const fs = new MemFs();
    const m = fs.markerFs();
    claim(primary, m, 0, 0);
    finish(primary, m, { trigger: 'postinstall', status: 204, at: 0 });
    const nested = { ...primary, path: 'node_modules/mid-b/node_modules/a' };
    expect(markerState(nested, m, 5000, 4000)).toBe('reported');
    expect(claim(nested, m, 5000, 4000)).toEqual({ result: 'taken' });
    expect(markerState(primary, m, 5000, 4000)).toBe('outdated');
    // A package outside the tree (pnpm's global virtual store, yarn's global cache): shared, its times say nothing.
    expect(markerState({ ...primary, path: undefined }, m, 5000, 4000)).toBe('reported');
  });

  it.each([
    ['9 min 59.999 s', 10 * 60 * 1000 - 1, 'in-flight'],
    ['10 min', 10 * 60 * 1000, 'stale'],
  ])('an empty marker is retried after 10 minutes: %s old → %s', (_n, age, state) => {
    const fs = new MemFs();
    fs.write(primary.file, '');
    expect(markerState(primary, fs.markerFs(), age, 0)).toBe(state);
  });

  it('retryLater restarts the clock', () => {
    const fs = new MemFs();
    const m = fs.markerFs();
    claim(primary, m, 0, 0);
    fs.clock = 5000;
    retryLater(primary, m);
    expect(markerState(primary, m, RETRY_AFTER_MS + 1000, 0)).toBe('in-flight');
    expect(markerState(primary, m, RETRY_AFTER_MS + 5000, 0)).toBe('stale');
  });

  it('creates the marker folder only when the first create fails', () => {
    const fs = new MemFs();
    claim(primary, fs.markerFs(), 0, 0);
    expect(fs.calls).toEqual([`create ${primary.file}`, `mkdirp ${primary.dir}`, `create ${primary.file}`]);
    fs.calls = [];
    const other = { ...primary, file: `${primary.dir}/b.json` };
    expect(claim(other, fs.markerFs(), 0, 0)).toEqual({ result: 'claimed', location: other });
    expect(fs.calls).toEqual([`create ${other.file}`]);
    // Both claims are empty files: a send in flight, not a report.
    expect([fs.files.get(primary.file), fs.files.get(other.file)]).toEqual(['', '']);
  });

  it('is unwritable when the tree is read-only or there is no marker place; nothing is tried anywhere else', () => {
    const fs = new MemFs();
    fs.readOnly.add('/app');
    expect(claim(primary, fs.markerFs(), 0, 0)).toEqual({ result: 'unwritable' });
    expect(claim(undefined, fs.markerFs(), 0, 0)).toEqual({ result: 'unwritable' });
    expect(fs.calls.every((c) => c.includes('/app/'))).toBe(true);
    expect(fs.files.size).toBe(0);
  });
});

describe('claim: a takeover that cannot be written', () => {
  const loc = { dir: '/app/node_modules/.install-beacon', file: '/app/node_modules/.install-beacon/a.json', tree: '/app', path: 'node_modules/a' };
  const T = RETRY_AFTER_MS + 1;
  it('a stale marker in a read-only tree (no lock can be created): unwritable, marker untouched', () => {
    const fs = new MemFs({ [loc.file]: '' });
    fs.readOnly.add('/app');
    expect(claim(loc, fs.markerFs(), T, 0)).toEqual({ result: 'unwritable' });
    expect([...fs.files]).toEqual([[loc.file, '']]);
  });

  it('a stale marker whose rewrite fails: unwritable, and the lock is removed', () => {
    const fs = new MemFs({ [loc.file]: '' });
    const m = fs.markerFs();
    expect(claim(loc, { ...m, write: () => false, rename: () => false }, T, 0)).toEqual({ result: 'unwritable' });
    expect([...fs.files.keys()]).toEqual([loc.file]);
  });
});

describe('stale takeover: two processes never both take over one marker', () => {
  const loc = { dir: '/app/node_modules/.install-beacon', file: '/app/node_modules/.install-beacon/a.json', tree: '/app', path: 'node_modules/a' };
  const T = RETRY_AFTER_MS + 1;

  /** A marker fs that runs `interrupt` once, right after the call matching `at` (a scheduler point in the other process). */
  function interleaved(fs: MemFs, at: (call: string) => boolean, interrupt: () => void): MarkerFs {
    const inner = fs.markerFs();
    let fired = false;
    const wrap = <K extends keyof MarkerFs>(key: K): MarkerFs[K] =>
      ((...args: unknown[]) => {
        const result = (inner[key] as (...a: unknown[]) => unknown)(...args);
        if (!fired && at(fs.calls[fs.calls.length - 1]!)) {
          fired = true;
          interrupt();
        }
        return result;
      }) as MarkerFs[K];
    return { mkdirp: wrap('mkdirp'), createExclusive: wrap('createExclusive'), stat: wrap('stat'), read: wrap('read'), write: wrap('write'), remove: wrap('remove'), list: wrap('list'), rename: wrap('rename') };
  }

  const staleFs = () => {
    const fs = new MemFs();
    fs.write(loc.file, ''); // a claim whose sender died, at clock 0
    fs.clock = T;
    return fs;
  };

  // Each point of B's takeover at which A may run its whole takeover (and send, and finish).
  const points: [string, (c: string) => boolean][] = [
    ["after B's create found the marker", (c) => c === `create ${loc.file}`],
    ["after B's first stat", (c) => c === `stat ${loc.file}`],
    ["after B created its lock", (c) => c.startsWith('create') && c.endsWith('.takeover')],
  ];
  for (const [name, at] of points) {
    it(`A runs its whole takeover (and finishes) ${name}: exactly one claimed`, () => {
      const fs = staleFs();
      let a: string | undefined;
      const b = claim(loc, interleaved(fs, at, () => {
        a = claim(loc, fs.markerFs(), T, 0).result;
        if (a === 'claimed') finish(loc, fs.markerFs(), { trigger: 'runtime', status: 204, at: T });
      }), T, 0).result;
      expect([a, b].filter((r) => r === 'claimed')).toHaveLength(1);
      expect([...fs.files.keys()].filter((f) => f.endsWith('.takeover'))).toEqual([]);
    });
  }

  it("A's takeover runs between B's stat and B's lock, and A removes its lock: B's re-check still loses", () => {
    const fs = staleFs();
    let a: string | undefined;
    const b = claim(loc, interleaved(fs, (c) => c === `stat ${loc.file}`, () => {
      fs.clock = T + 1; // A rewrites the marker a moment later: a new mtime
      a = claim(loc, fs.markerFs(), T + 1, 0).result;
    }), T, 0).result;
    expect(a).toBe('claimed');
    expect(b).toBe('taken');
  });

  it('the marker finished between B\'s stat and its re-check, within the same mtime tick (coarse mtimes): B sees the size change and loses', () => {
    const fs = staleFs();
    const b = claim(loc, interleaved(fs, (c) => c.startsWith('create') && c.endsWith('.takeover'), () => {
      fs.clock = 0; // same mtime as the stale claim B saw
      finish(loc, fs.markerFs(), { trigger: 'runtime', status: 204, at: T });
    }), T, 0).result;
    expect(b).toBe('taken');
    expect(fs.files.get(loc.file)).toContain('"status":204');
  });

  it('a lock left by a takeover that is in progress makes the other caller lose', () => {
    const fs = staleFs();
    const st = fs.markerFs().stat(loc.file)!;
    fs.write(`${loc.file}.${st.mtimeMs}-${st.size}.takeover`, '');
    fs.write(`${loc.file}.0.takeover`, '');
    expect(claim(loc, fs.markerFs(), T, 0)).toEqual({ result: 'taken' });
  });

  // Issue 19 item 7: the winner used to truncate the marker and write it
  // again; in between, a reader saw size 0 with the old mtime, named a lock
  // after that state, won it, and took over too. B runs its whole claim while
  // A replaces the marker: in the middle of a write (as ext4 showed it: size 0,
  // the old mtime), or right after a rename.
  it.each([
    ['a stale empty claim', '', 0],
    ['a reported marker, package.json reinstalled since (outdated)', '{"status":204}\n', 4000],
  ])('B claims while A is replacing %s: exactly one claimed, no lock left', (_n, content, pkgMtime) => {
    const fs = new MemFs();
    fs.write(loc.file, content);
    fs.clock = T;
    const inner = fs.markerFs();
    const results: string[] = [];
    const b = () => results.push(claim(loc, fs.markerFs(), T, pkgMtime).result);
    const a: MarkerFs = {
      ...inner,
      write: (file, text) => {
        if (file !== loc.file) return inner.write(file, text);
        const mtime = fs.mtimes.get(file)!;
        fs.files.set(file, ''); // truncated, the mtime not yet updated
        fs.mtimes.set(file, mtime);
        b();
        return inner.write(file, text);
      },
      rename: (from, to) => {
        const done = inner.rename(from, to);
        b();
        return done;
      },
    };
    results.unshift(claim(loc, a, T, pkgMtime).result);
    expect(results.filter((r) => r === 'claimed')).toHaveLength(1);
    expect([...fs.files.keys()]).toEqual([loc.file]);
  });

  it.each([
    ['59.999 s old: its holder may still be at work, the caller loses', LOCK_EXPIRES_MS - 1, 'taken', [`${loc.file}.0.takeover`]],
    ['60 s old: its holder died (kill -9 mid-takeover), the next lock decides and the dead one goes', LOCK_EXPIRES_MS, 'claimed', []],
  ])('a lock left behind, %s', (_n, age, result, left) => {
    const fs = new MemFs();
    fs.write(loc.file, '');
    fs.clock = T;
    fs.write(`${loc.file}.0.takeover`, '');
    expect(claim(loc, fs.markerFs(), T + age, 0).result).toBe(result);
    expect([...fs.files.keys()].filter((f) => f !== loc.file)).toEqual(left);
  });

  it('two callers find the same dead lock: exactly one takes over', () => {
    const fs = new MemFs();
    fs.write(loc.file, '');
    fs.write(`${loc.file}.0.takeover`, '');
    fs.clock = T + LOCK_EXPIRES_MS;
    const now = T + LOCK_EXPIRES_MS;
    for (const at of [(c: string) => c === `stat ${loc.file}.0.takeover`, (c: string) => c === `create ${loc.file}.1.takeover`]) {
      const f = new MemFs();
      f.files = new Map(fs.files);
      f.mtimes = new Map(fs.mtimes);
      f.dirs = new Set(fs.dirs);
      f.clock = fs.clock;
      let a: string | undefined;
      const b = claim(loc, interleaved(f, at, () => (a = claim(loc, f.markerFs(), now, 0).result)), now, 0).result;
      expect([a, b].filter((r) => r === 'claimed')).toHaveLength(1);
    }
  });
});

describe('underFreshLayer: an image layer seen through a container (issue 19 item 6)', () => {
  // [path, dev, birth]: a tree and its ancestors; the mount root is the highest folder on the package's device.
  const fsOf = (entries: Array<[string, number, number]>): MarkerFs => ({
    ...new MemFs().markerFs(),
    stat: (file) => {
      const e = entries.find(([p]) => p === file);
      return e && { size: 0, mtimeMs: e[2], birthtimeMs: e[2], dev: e[1] };
    },
  });
  const PKG = '/c/app/node_modules/acme-lib';
  it.each([
    ['an overlay whose upper layer was made after the install (a container): true', [[PKG, 9, 100], ['/c/app/node_modules', 9, 100], ['/c/app', 9, 90], ['/c', 9, 500], ['/', 1, 1]], true],
    ['the same tree on its own disk, the disk older than the install: false', [[PKG, 9, 100], ['/c/app/node_modules', 9, 100], ['/c/app', 9, 90], ['/c', 9, 50], ['/', 1, 1]], false],
    ["the container's root file system is the overlay (Docker): true", [[PKG, 9, 100], ['/c/app/node_modules', 9, 100], ['/c/app', 9, 90], ['/c', 9, 80], ['/', 9, 500]], true],
    ['a folder installed in this container (born after its layer): false', [[PKG, 9, 600], ['/c/app/node_modules', 9, 600], ['/c/app', 9, 90], ['/c', 9, 80], ['/', 9, 500]], false],
    ['no birth times kept: false', [[PKG, 9, 0], ['/', 9, 500]], false],
    ['a folder that cannot be stat-ed: false', [['/', 9, 500]], false],
  ] as Array<[string, Array<[string, number, number]>, boolean]>)('%s', (_n, entries, expected) => {
    expect(underFreshLayer(PKG, fsOf(entries))).toBe(expected);
  });
});

describe('pruneGone', () => {
  it('removes reported markers whose package is gone, keeps the rest (present, in flight, unknown, outside the tree)', () => {
    const dir = '/g/lib/node_modules/.install-beacon';
    const fs = new MemFs({
      '/g/lib/node_modules/kept/package.json': '{}',
      [`${dir}/kept.json`]: { status: 204, path: 'node_modules/kept' },
      [`${dir}/gone.json`]: { status: 204, path: 'node_modules/gone' },
      [`${dir}/inflight.json`]: '',
      [`${dir}/old-format.json`]: { status: 204 },
      [`${dir}/escape.json`]: { status: 204, path: '../../etc' },
      [`${dir}/new.json`]: '',
    });
    const probes = fs.probes();
    const removed = pruneGone({ dir, file: `${dir}/new.json`, tree: '/g/lib', path: 'node_modules/new' }, fs.markerFs(), probes.exists);
    expect(removed).toBe(1);
    expect([...fs.files.keys()].filter((f) => f.startsWith(dir)).sort()).toEqual([`${dir}/escape.json`, `${dir}/inflight.json`, `${dir}/kept.json`, `${dir}/new.json`, `${dir}/old-format.json`]);
  });
});

describe('pruneGone: a marker another installed copy still needs (issue 19 item 8)', () => {
  const dir = '/app/node_modules/.install-beacon';
  const file = markerLocation({ markerDir: dir }, 'acme-lib', '2.3.4').file;
  const recorded = { [file]: { status: 204, path: 'node_modules/mid-a/node_modules/acme-lib' } };
  it.each([
    ['a second nested copy of that version, under a parent that stays', { '/app/node_modules/mid-b/node_modules/acme-lib/package.json': { name: 'acme-lib', version: '2.3.4' } }, true],
    ['a scoped parent, two levels down', { '/app/node_modules/@s/p/node_modules/q/node_modules/acme-lib/package.json': { name: 'acme-lib', version: '2.3.4' } }, true],
    ["pnpm's store folder", { '/app/node_modules/.pnpm/acme-lib@2.3.4/node_modules/acme-lib/package.json': { name: 'acme-lib', version: '2.3.4' } }, true],
    ['only another version of it: removed', { '/app/node_modules/acme-lib/package.json': { name: 'acme-lib', version: '2.3.5' }, '/app/node_modules/mid-b/node_modules/acme-lib/package.json': 'not json' }, false],
    ['no copy at all: removed', { '/app/node_modules/mid-b/package.json': { name: 'mid-b', version: '1.0.0' } }, false],
  ])('%s', (_n, tree, kept) => {
    const fs = new MemFs({ ...recorded, ...tree });
    expect(pruneGone({ dir, file: `${dir}/own.json`, tree: '/app', path: 'node_modules/other' }, fs.markerFs(), fs.probes().exists)).toBe(kept ? 0 : 1);
    expect(fs.files.has(file)).toBe(kept);
  });
});

describe('pruneGone: what it never touches', () => {
  const dir = '/g/lib/node_modules/.install-beacon';
  const gone = { status: 204, path: 'node_modules/gone' };
  it.each([
    ['a file that is not a marker (*.json)', `${dir}/notes.txt`],
    ["the caller's own marker", `${dir}/own.json`],
  ])('%s', (_n, file) => {
    const fs = new MemFs({ [file]: gone });
    expect(pruneGone({ dir, file: `${dir}/own.json`, tree: '/g/lib', path: 'node_modules/own' }, fs.markerFs(), fs.probes().exists)).toBe(0);
    expect([...fs.files.keys()]).toEqual([file]);
  });

  it('a marker holding JSON null is not ours to judge: kept', () => {
    const fs = new MemFs({ [`${dir}/n.json`]: 'null' });
    expect(pruneGone({ dir, file: `${dir}/own.json`, tree: '/g/lib' }, fs.markerFs(), fs.probes().exists)).toBe(0);
    expect(fs.files.has(`${dir}/n.json`)).toBe(true);
  });

  it('a location without a tree prunes nothing and lists nothing', () => {
    const fs = new MemFs({ [`${dir}/gone.json`]: gone });
    expect(pruneGone({ dir, file: `${dir}/own.json` }, fs.markerFs(), fs.probes().exists)).toBe(0);
    expect(fs.files.has(`${dir}/gone.json`)).toBe(true);
    expect(fs.calls).toEqual([]);
  });

  it('a tree at the file-system root: /node_modules/<x>/package.json is looked up', () => {
    const root = '/node_modules/.install-beacon';
    const fs = new MemFs({ '/node_modules/kept/package.json': '{}', [`${root}/kept.json`]: { status: 204, path: 'node_modules/kept' }, [`${root}/gone.json`]: gone });
    expect(pruneGone({ dir: root, file: `${root}/own.json`, tree: '/' }, fs.markerFs(), fs.probes().exists)).toBe(1);
    expect(fs.files.has(`${root}/kept.json`)).toBe(true);
    expect(fs.files.has(`${root}/gone.json`)).toBe(false);
  });
});
