import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, cpSync, mkdirSync, openSync, readdirSync, readSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { elfInterpreter } from '../src/libc.js';
import { startCollector, type Collector } from './support/collector.js';
import { packAcme, packBeacon, REPORTING_MAIN } from './support/fixture.js';
import { bunMusl, MUSL_DIR, MUSL_ROOT_LIBS, muslRootMissing } from './support/musl.js';
import { run, type RunResult, TempDirs } from './support/process.js';

// {libc} and {libc_version} under a runtime linked against musl, as on
// Alpine: Bun's musl build (the npm registry's @oven/bun-linux-x64-musl) in a
// root file system that holds musl and no glibc, entered with chroot in a
// mount namespace of its own. A project there installs a packed package that
// uses install-beacon with `bun install` (its trusted postinstall runs the
// README's line, with the `node` bun provides), or runs a program that
// require()s it; the event goes to a collector on the host's 127.0.0.1 (a
// mount namespace shares the network). The expected version is what the root's
// musl loader prints about itself, run there.
//
// The root: Debian's musl (its loader is /lib/ld-musl-x86_64.so.1, as on
// Alpine), Debian's libstdc++6 and libgcc-s1 (Bun's musl build needs
// libstdc++.so.6; Debian has no musl build of it, so these glibc builds run on
// musl with a shim for the seven glibc-only symbols they ask for, as Alpine's
// gcompat does), a musl-linked /usr/bin/env for `#!/usr/bin/env node`, and
// Bun, bind-mounted. No /bin/sh: bun runs the postinstall in its own shell.
// All from the tool cache, filled by scripts/fetch-musl.sh; without it, skipped.

const missing =
  muslRootMissing() ??
  (process.getuid?.() !== 0 ? 'needs root (mount namespace and chroot)' : spawnSync('unshare', ['--mount', 'true']).status !== 0 ? 'unshare --mount fails here' : undefined);
const bun = bunMusl();
const LOADER = '/lib/ld-musl-x86_64.so.1';
const DEAD = 'http://127.0.0.1:9/';

const temps = new TempDirs();
let root: string;
let collector: Collector;
let acme: string;

/** A musl-only root file system in a temp dir (Bun itself is bind-mounted over usr/local/bin/bun in each namespace). */
function makeRoot(): string {
  const r = temps.make('ib-musl-root-');
  cpSync(join(MUSL_DIR, 'lib'), join(r, 'lib'), { recursive: true, verbatimSymlinks: true });
  cpSync(join(MUSL_DIR, 'etc'), join(r, 'etc'), { recursive: true });
  cpSync(join(MUSL_ROOT_LIBS, 'usr'), join(r, 'usr'), { recursive: true });
  for (const d of ['usr/local/bin', 'dev', 'proc', 'home', 'pkgs']) mkdirSync(join(r, d), { recursive: true });
  mkdirSync(join(r, 'tmp'));
  chmodSync(join(r, 'tmp'), 0o1777);
  writeFileSync(join(r, 'usr/local/bin/bun'), '');
  writeFileSync(join(r, 'dev/null'), '');
  return r;
}

/** Run `argv` chrooted into the root, in a new mount namespace (its mounts vanish with it), with only PATH and HOME set. */
function inRoot(argv: string[], home = '/home'): Promise<RunResult> {
  const script = [
    'set -e',
    'mount --make-rprivate /',
    'mount --bind "$1" "$2/usr/local/bin/bun"',
    'mount --bind /dev/null "$2/dev/null"',
    'mount -t proc proc "$2/proc"', // bun install needs /proc
    'r="$2"; shift 2',
    'exec chroot "$r" "$@"',
  ].join('\n');
  // PATH finds unshare, mount and chroot on the host, then bun and env in the root.
  const env = { PATH: '/usr/local/bin:/usr/bin:/usr/sbin:/bin:/sbin', HOME: home };
  return run('unshare', ['--mount', '--fork', 'sh', '-c', script, 'ns', bun!.bin, root, ...argv], { cwd: root, env, timeoutMs: 60_000 });
}

/** The first 8 KiB of a file (its ELF headers; Bun is 100 MB). */
function head(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(8192);
    return b.subarray(0, readSync(fd, b, 0, b.length, 0));
  } finally {
    closeSync(fd);
  }
}

/** Every file under `dir`, as paths relative to it. */
function walk(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name), base) : [relative(base, join(dir, e.name))]));
}

function ok(r: RunResult): void {
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
}

/** A project in the root with acme-lib (and install-beacon) from the packed tarballs; returns its path inside the root. */
function project(name: string, pkg: Record<string, unknown>, files: Record<string, string> = {}): string {
  const dir = join(root, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true, dependencies: { 'acme-lib': `file:/${relative(root, acme)}` }, ...pkg }));
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return `/${name}`;
}

describe.skipIf(!!missing)(`{libc} and {libc_version} under Bun's musl build (${bun ? `bun ${bun.version}` : 'bun'}) in a musl-only root${missing ? ` [skipped: ${missing}]` : ''}`, () => {
  let printed: string | undefined;

  beforeAll(async () => {
    root = makeRoot();
    collector = await startCollector();
    const beacon = packBeacon(join(root, 'pkgs'));
    acme = packAcme(join(root, 'pkgs'), {
      installBeacon: { url: `${collector.base}/e?libc={libc}&libc_version={libc_version}&platform={platform}&pm={pm}&trigger={trigger}` },
      extra: { dependencies: { 'install-beacon': `file:/${relative(root, beacon)}` } },
      main: REPORTING_MAIN,
    });
    // What musl says of itself: its loader, run with no program, prints "musl libc (x86_64)\nVersion 1.2.3".
    const self = await inRoot([LOADER]);
    expect(self.stderr).toMatch(/^musl libc \(x86_64\)$/m);
    printed = /^Version (\S+)$/m.exec(self.stderr)?.[1];
  }, 120_000);
  afterAll(async () => {
    await collector?.close();
    temps.cleanup();
  });
  beforeEach(() => {
    collector.requests.length = 0;
  });

  it('the root holds musl and no glibc, and Bun there is linked against musl', async () => {
    expect(printed).toMatch(/^\d+\.\d+\.\d+$/);
    const files = walk(root).filter((f) => !f.startsWith('pkgs/'));
    expect(files.filter((f) => /(^|\/)(libc\.so\.6|libm\.so\.6|libc-[\d.]+\.so|ld-[\d.]+\.so)$/.test(f))).toEqual([]);
    expect(files.filter((f) => /(^|\/)node$/.test(f))).toEqual([]); // no Node: bun provides `node` to scripts
    // Every program's interpreter is musl's loader (shared libraries, *.so*, have none).
    const programs = files.filter((f) => statSync(join(root, f)).mode & 0o111 && !/\.so(\.|$)/.test(f)).map((f): [string, string] => [f, join(root, f)]);
    programs.push(['usr/local/bin/bun', bun!.bin]); // bind-mounted over an empty file
    const interps = Object.fromEntries(programs.map(([f, p]) => [f, elfInterpreter(head(p))]));
    expect(interps).toEqual({ 'usr/bin/env': LOADER, 'usr/local/bin/bun': LOADER });
    const r = await inRoot(['/usr/bin/env', 'bun', '-e', 'console.log(process.platform, process.arch, typeof process.versions.bun)']);
    ok(r);
    expect(r.stdout.trim()).toBe('linux x64 string');
  });

  it('bun install of a packed package (trusted postinstall `install-beacon || exit 0`): one event, libc=musl, libc_version as the loader prints it', async () => {
    const app = project('app', { trustedDependencies: ['acme-lib'] });
    ok(await inRoot(['/usr/local/bin/bun', 'install', '--cwd', app, `--registry=${DEAD}`]));
    await collector.waitFor(1, 30_000);
    await collector.settled();
    expect(collector.requests.map((q) => q.query)).toEqual([{ libc: 'musl', libc_version: printed, platform: 'linux', pm: 'bun', trigger: 'postinstall' }]);
  });

  it('a program run by bun that requires it (reportInstall): one event, libc=musl, libc_version as the loader prints it', async () => {
    const app = project('app2', {}, { 'main.js': "require('acme-lib');\n" });
    ok(await inRoot(['/usr/local/bin/bun', 'install', '--ignore-scripts', '--cwd', app, `--registry=${DEAD}`]));
    expect(collector.requests).toEqual([]);
    ok(await inRoot(['/usr/local/bin/bun', `${app}/main.js`]));
    await collector.waitFor(1, 30_000);
    await collector.settled();
    expect(collector.requests.map((q) => q.query)).toEqual([{ libc: 'musl', libc_version: printed, platform: 'linux', pm: 'bun', trigger: 'runtime' }]);
  });
});
