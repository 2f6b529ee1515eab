import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { archSql, canonicalArch, canonicalPlatform, countedVars, platformSql } from '../src/storage/platforms.js';

describe('one platform, however it is spelled', () => {
  const PLATFORMS: Array<[string, string]> = [
    // Node's process.platform stays as it is
    ['linux', 'linux'], ['darwin', 'darwin'], ['win32', 'win32'], ['freebsd', 'freebsd'],
    // Python's platform.system()
    ['Linux', 'linux'], ['Darwin', 'darwin'], ['Windows', 'win32'], ['FreeBSD', 'freebsd'], ['OpenBSD', 'openbsd'], ['SunOS', 'sunos'], ['AIX', 'aix'],
    // Python's sys.platform
    ['cygwin', 'win32'], ['freebsd14', 'freebsd'],
    // uname -s
    ['MINGW64_NT-10.0-19045', 'win32'], ['MINGW32_NT-6.1', 'win32'], ['MSYS_NT-10.0-22631', 'win32'], ['CYGWIN_NT-10.0-WOW', 'win32'], ['NetBSD', 'netbsd'],
    // anything else is counted as sent
    ['Haiku', 'Haiku'], ['', ''], ["it's", "it's"],
  ];
  it.each(PLATFORMS)('platform %j -> %j', (sent, counted) => expect(canonicalPlatform(sent)).toBe(counted));

  const ARCHES: Array<[string, string]> = [
    ['x64', 'x64'], ['arm64', 'arm64'], ['ia32', 'ia32'],
    ['x86_64', 'x64'], ['AMD64', 'x64'], ['amd64', 'x64'], ['aarch64', 'arm64'], ['ARM64', 'arm64'],
    ['i686', 'ia32'], ['i386', 'ia32'], ['x86', 'ia32'], ['armv7l', 'arm'], ['armv6l', 'arm'], ['ppc64le', 'ppc64'], ['s390x', 's390x'], ['riscv64', 'riscv64'],
    ['sparc64', 'sparc64'], ['x64%', 'x64%'],
  ];
  it.each(ARCHES)('arch %j -> %j', (sent, counted) => expect(canonicalArch(sent)).toBe(counted));

  it("the schema 4 migration's SQL (platformSql, archSql) answers as the code does, in a real SQLite", () => {
    const db = new Database(':memory:');
    const sql = (f: (x: string) => string, v: string) => db.prepare<[string], { c: string }>(`SELECT ${f('v')} AS c FROM (SELECT ? AS v)`).get(v)!.c;
    try {
      expect(PLATFORMS.map(([sent]) => sql(platformSql, sent))).toEqual(PLATFORMS.map(([, counted]) => counted));
      expect(ARCHES.map(([sent]) => sql(archSql, sent))).toEqual(ARCHES.map(([, counted]) => counted));
    } finally {
      db.close();
    }
  });

  it('a variable not sent stays not sent', () => expect(countedVars({ version: '1.0.0' })).toEqual({ version: '1.0.0' }));

  it('only platform and arch are counted under one name; the other variables as sent', () => {
    const sent = { platform: 'Linux', arch: 'AMD64', python: 'Linux', version: 'x86_64' };
    expect(countedVars(sent)).toEqual({ platform: 'linux', arch: 'x64', python: 'Linux', version: 'x86_64' });
    expect(sent.platform).toBe('Linux');
  });
});
