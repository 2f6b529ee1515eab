import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detectLibc } from '../src/context.js';
import { detectLibcFamily, detectLibcVersion, elfInterpreter, findLoader, loaderFamily, versionInLoader } from '../src/libc.js';
import { realProbes } from '../src/probes.js';
import { MemFs } from './support/memfs.js';
import { hasMusl, MUSL_LOADER } from './support/musl.js';
import { BIN, baseEnv } from './support/process.js';

/** A minimal ELF executable header with one PT_LOAD and (optionally) a PT_INTERP, as a Linux linker lays them out. */
function elf({ bits = 64, le = true, interp, interpAt }: { bits?: 32 | 64; le?: boolean; interp?: string; interpAt?: number }): Buffer {
  const is64 = bits === 64;
  const ehsize = is64 ? 64 : 52;
  const phentsize = is64 ? 56 : 32;
  const phnum = interp ? 2 : 1;
  const at = interpAt ?? ehsize + phnum * phentsize;
  const size = Math.max(at + (interp ? interp.length + 1 : 0), ehsize + phnum * phentsize);
  const b = Buffer.alloc(size);
  b.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, le ? 1 : 2, 1], 0);
  const u16 = (v: number, o: number) => (le ? b.writeUInt16LE(v, o) : b.writeUInt16BE(v, o));
  const u32 = (v: number, o: number) => (le ? b.writeUInt32LE(v, o) : b.writeUInt32BE(v, o));
  const word = (v: number, o: number) => (is64 ? (le ? b.writeBigUInt64LE(BigInt(v), o) : b.writeBigUInt64BE(BigInt(v), o)) : u32(v, o));
  u16(2, 16); // ET_EXEC
  word(ehsize, is64 ? 0x20 : 0x1c); // e_phoff
  u16(phentsize, is64 ? 0x36 : 0x2a);
  u16(phnum, is64 ? 0x38 : 0x2c);
  const ph = (i: number) => ehsize + i * phentsize;
  u32(1, ph(0)); // PT_LOAD first, as linkers write PT_PHDR/PT_INTERP/PT_LOAD in some order: the loop must not stop at the first
  if (interp) {
    u32(3, ph(1)); // PT_INTERP
    word(at, ph(1) + (is64 ? 0x08 : 0x04)); // p_offset
    word(interp.length + 1, ph(1) + (is64 ? 0x20 : 0x10)); // p_filesz, with its NUL
    b.write(interp, at, 'latin1');
  }
  return b;
}

const GLIBC_LD = '\0\0ld.so (Debian GLIBC 2.36-9+deb12u14) stable release version 2.36.\nCopyright (C) 2022\0';
const MUSL_LIBC = '\0Error relocating %s\0musl libc (x86_64)\nVersion %s\nDynamic Program Loader\0\0\x001.2.4\0%d.%d\0';
const latin1 = (b: Buffer) => b.toString('latin1');

describe('elfInterpreter', () => {
  it.each([
    ['64-bit little-endian', elf({ interp: '/lib64/ld-linux-x86-64.so.2' }), '/lib64/ld-linux-x86-64.so.2'],
    ['64-bit big-endian (s390x)', elf({ le: false, interp: '/lib/ld64.so.1' }), '/lib/ld64.so.1'],
    ['32-bit little-endian (armhf)', elf({ bits: 32, interp: '/lib/ld-linux-armhf.so.3' }), '/lib/ld-linux-armhf.so.3'],
    ['32-bit big-endian', elf({ bits: 32, le: false, interp: '/lib/ld.so.1' }), '/lib/ld.so.1'],
    ['musl', elf({ interp: '/lib/ld-musl-aarch64.so.1' }), '/lib/ld-musl-aarch64.so.1'],
    ['a static executable (no PT_INTERP)', elf({}), undefined],
    ['the interpreter beyond the bytes read', elf({ interp: '/lib64/ld-linux-x86-64.so.2' }).subarray(0, 150), undefined],
    ['not ELF (a shell script)', Buffer.from('#!/bin/sh\nexec node "$@"\n'.padEnd(200, ' ')), undefined],
    ['empty', Buffer.alloc(0), undefined],
    ['a program header table pointing past the end', (() => { const b = elf({}); b.writeBigUInt64LE(1n << 40n, 0x20); return b; })(), undefined],
  ])('%s', (_name, bytes, expected) => {
    expect(elfInterpreter(bytes)).toBe(expected);
  });

  it("reads this Node's own interpreter", () => {
    if (process.platform !== 'linux') return;
    const interp = elfInterpreter(readFileSync(process.execPath).subarray(0, 8192));
    expect(interp).toMatch(/^\/.*\/ld[-\w.]*\.so\.\d+$/);
  });
});

describe('loaderFamily and versionInLoader', () => {
  it.each([
    ['/lib/ld-musl-x86_64.so.1', 'musl'],
    ['/lib/ld-musl-armhf.so.1', 'musl'],
    ['/lib64/ld-linux-x86-64.so.2', 'glibc'],
    ['/lib/ld-linux-aarch64.so.1', 'glibc'],
    ['/lib/ld-linux.so.2', 'glibc'],
    ['/lib64/ld64.so.2', 'glibc'],
    ['/lib/ld-2.31.so', 'glibc'],
    ['/system/bin/linker64', undefined],
    ['/lib/libc.so.6', undefined],
  ])('%s → %s', (path, family) => {
    expect(loaderFamily(path)).toBe(family);
  });

  it.each([
    ['glibc', GLIBC_LD, '2.36'],
    ['glibc', 'GNU C Library (GNU libc) stable release version 2.17, by Roland McGrath et al.', '2.17'],
    ['glibc', 'ld.so (Ubuntu GLIBC 2.39-0ubuntu8) stable release version 2.39.', '2.39'],
    ['glibc', 'no version string here', undefined],
    ['musl', MUSL_LIBC, '1.2.4'],
    ['musl', MUSL_LIBC.replace('musl libc', 'some libc'), undefined],
    ['musl', `${MUSL_LIBC}\x002.0.1\0`, undefined], // two candidates: no telling which
    ['musl', `${MUSL_LIBC}\x001.2.4\0`, '1.2.4'],
  ] as const)('%s: %j → %s', (family, text, expected) => {
    expect(versionInLoader(family, Buffer.from(text, 'latin1'))).toBe(expected);
  });
});

describe('detectLibcVersion and detectLibc (injected files)', () => {
  const NODE = '/usr/local/bin/node';
  it.each([
    ['darwin', {}, 'none', 'none'],
    ['win32', { [NODE]: latin1(elf({ interp: '/lib64/ld-linux-x86-64.so.2' })) }, 'none', 'none'],
    ['glibc via the interpreter', { [NODE]: latin1(elf({ interp: '/lib64/ld-linux-x86-64.so.2' })), '/lib64/ld-linux-x86-64.so.2': GLIBC_LD }, 'glibc', '2.36'],
    ['musl via the interpreter', { [NODE]: latin1(elf({ interp: '/lib/ld-musl-x86_64.so.1' })), '/lib/ld-musl-x86_64.so.1': MUSL_LIBC }, 'musl', '1.2.4'],
    // Debian's `musl` package puts musl's loader in /lib of a glibc system: Node still runs on glibc.
    ['glibc with musl installed beside it', { [NODE]: latin1(elf({ interp: '/lib64/ld-linux-x86-64.so.2' })), '/lib64/ld-linux-x86-64.so.2': GLIBC_LD, '/lib/ld-musl-x86_64.so.1': MUSL_LIBC }, 'glibc', '2.36'],
    ['a static Node on Alpine: the loader in /lib', { [NODE]: latin1(elf({})), '/lib/ld-musl-x86_64.so.1': MUSL_LIBC }, 'musl', '1.2.4'],
    ['an unreadable Node: the loaders in /lib and /lib64', { '/lib64/ld-linux-x86-64.so.2': GLIBC_LD }, 'glibc', '2.36'],
    ['a loader without a version string', { [NODE]: latin1(elf({ interp: '/lib64/ld-linux-x86-64.so.2' })), '/lib64/ld-linux-x86-64.so.2': 'stripped' }, 'glibc', 'unknown'],
    ['no loader anywhere', { [NODE]: latin1(elf({})) }, 'glibc', 'unknown'],
  ])('%s → %s %s', (name, files, family, version) => {
    const platform = name === 'darwin' || name === 'win32' ? name : 'linux';
    const probes = new MemFs(files).probes();
    expect(detectLibc(platform, probes, NODE)).toBe(family);
    expect(detectLibcVersion(platform, NODE, probes)).toBe(version);
  });

  it('reads nothing off Linux, and only the executable\'s head and the loader on Linux', () => {
    const fs = new MemFs({ [NODE]: latin1(elf({ interp: '/lib64/ld-linux-x86-64.so.2' })), '/lib64/ld-linux-x86-64.so.2': GLIBC_LD });
    detectLibcVersion('darwin', NODE, fs.probes());
    expect(fs.calls).toEqual([]);
    detectLibcVersion('linux', NODE, fs.probes());
    expect(fs.calls).toEqual([`readBytes ${NODE}`, 'readBytes /lib64/ld-linux-x86-64.so.2']);
  });
});

describe('libc on this machine (real files)', () => {
  const linux = process.platform === 'linux';

  it.runIf(linux)('{libc_version} matches `ldd --version` (glibc)', () => {
    const ldd = spawnSync('ldd', ['--version'], { encoding: 'utf8' });
    const text = `${ldd.stdout}${ldd.stderr}`;
    // glibc: "ldd (Debian GLIBC 2.36-9+deb12u14) 2.36"; musl: "musl libc (x86_64)\nVersion 1.2.4".
    const expected = /musl/.test(text) ? /Version (\S+)/.exec(text)?.[1] : /^ldd .* (\d+\.\d+(?:\.\d+)?)$/m.exec(text)?.[1];
    expect(expected).toMatch(/^\d+\.\d+/);
    expect(detectLibcVersion('linux', process.execPath, realProbes)).toBe(expected);
    expect(detectLibcFamily('linux', process.execPath, realProbes)).toBe(/musl/.test(text) ? 'musl' : 'glibc');
  });

  // A real musl loader (Debian's musl 1.2.3, unpacked by scripts/fetch-musl.sh) and what it says of itself when run.
  it.runIf(hasMusl())('a real musl loader: the version it prints when run is the one read from its file', () => {
    const self = spawnSync(MUSL_LOADER, [], { encoding: 'utf8' });
    const printed = /Version (\S+)/.exec(self.stderr)?.[1];
    expect(printed).toMatch(/^\d+\.\d+\.\d+$/);
    expect(versionInLoader('musl', readFileSync(MUSL_LOADER))).toBe(printed);
    // End to end through the real probes: an executable whose interpreter is that loader.
    const dir = mkdtempSync(join(tmpdir(), 'ib-libc-'));
    try {
      const exe = join(dir, 'node');
      writeFileSync(exe, elf({ interp: MUSL_LOADER }));
      expect(findLoader(exe, realProbes)).toEqual({ path: MUSL_LOADER, family: 'musl' });
      expect(detectLibcVersion('linux', exe, realProbes)).toBe(printed);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Debian's `musl` package on a glibc system adds /lib/ld-musl-x86_64.so.1; Node
// still runs on glibc. Reproduced in a mount namespace (an overlay adds the
// loader to /usr/lib for that process only), with the built hook: {libc} was
// "musl" there before libc.ts (it looked for any ld-musl-* in /lib).
const canNamespace = (() => {
  if (!hasMusl() || process.getuid?.() !== 0) return false;
  return spawnSync('unshare', ['-m', 'true']).status === 0;
})();

describe.runIf(canNamespace)('a glibc system with musl installed beside it (mount namespace, built hook)', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('sends libc=glibc and the glibc version', () => {
    const root = mkdtempSync(join(tmpdir(), 'ib-libc-ns-'));
    dirs.push(root);
    const layer = join(root, 'layer');
    mkdirSync(layer);
    symlinkSync(realpathSync(MUSL_LOADER), join(layer, 'ld-musl-x86_64.so.1'));
    const pkgDir = join(root, 'app', 'node_modules', 'acme-lib');
    mkdirSync(pkgDir, { recursive: true });
    writeFileSync(join(pkgDir, 'package.json'), JSON.stringify({ name: 'acme-lib', version: '2.3.4', installBeacon: { url: 'http://127.0.0.1:9/e?libc={libc}&v={libc_version}' } }));
    const libDir = realpathSync('/lib');
    const script = `mount -t overlay overlay -o lowerdir=${layer}:${libDir} ${libDir} && ls /lib/ld-musl-x86_64.so.1 >/dev/null && cd ${pkgDir} && exec ${process.execPath} ${BIN}`;
    const r = spawnSync('unshare', ['-m', 'sh', '-c', script], { encoding: 'utf8', env: baseEnv(root, { INSTALL_BEACON_DEBUG: '1' }), timeout: 60_000 });
    expect(r.status).toBe(0);
    const glibc = /^ldd .* (\d+\.\d+)$/m.exec(execFileSync('ldd', ['--version'], { encoding: 'utf8' }))?.[1];
    expect(r.stderr).toContain(`URL: http://127.0.0.1:9/e?libc=glibc&v=${glibc}`);
  });
});
