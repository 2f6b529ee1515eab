import { describe, expect, it } from 'vitest';
import { canonicalArch, canonicalPlatform, countedVars } from '../src/storage/platforms.js';

describe('one platform, however it is spelled', () => {
  it.each([
    // Node's process.platform stays as it is
    ['linux', 'linux'], ['darwin', 'darwin'], ['win32', 'win32'], ['freebsd', 'freebsd'],
    // Python's platform.system()
    ['Linux', 'linux'], ['Darwin', 'darwin'], ['Windows', 'win32'], ['FreeBSD', 'freebsd'], ['OpenBSD', 'openbsd'], ['SunOS', 'sunos'], ['AIX', 'aix'],
    // Python's sys.platform
    ['cygwin', 'win32'], ['freebsd14', 'freebsd'],
    // uname -s
    ['MINGW64_NT-10.0-19045', 'win32'], ['MINGW32_NT-6.1', 'win32'], ['MSYS_NT-10.0-22631', 'win32'], ['CYGWIN_NT-10.0-WOW', 'win32'], ['NetBSD', 'netbsd'],
    // anything else is counted as sent
    ['Haiku', 'Haiku'], ['', ''],
  ])('platform %j -> %j', (sent, counted) => expect(canonicalPlatform(sent)).toBe(counted));

  it.each([
    ['x64', 'x64'], ['arm64', 'arm64'], ['ia32', 'ia32'],
    ['x86_64', 'x64'], ['AMD64', 'x64'], ['amd64', 'x64'], ['aarch64', 'arm64'], ['ARM64', 'arm64'],
    ['i686', 'ia32'], ['i386', 'ia32'], ['x86', 'ia32'], ['armv7l', 'arm'], ['armv6l', 'arm'], ['ppc64le', 'ppc64'], ['s390x', 's390x'], ['riscv64', 'riscv64'],
    ['sparc64', 'sparc64'],
  ])('arch %j -> %j', (sent, counted) => expect(canonicalArch(sent)).toBe(counted));

  it('only platform and arch are counted under one name; the other variables as sent', () => {
    const sent = { platform: 'Linux', arch: 'AMD64', python: 'Linux', version: 'x86_64' };
    expect(countedVars(sent)).toEqual({ platform: 'linux', arch: 'x64', python: 'Linux', version: 'x86_64' });
    expect(sent.platform).toBe('Linux');
  });
});
