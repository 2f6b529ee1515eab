import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

// A real musl dynamic loader for the libc tests: Debian's `musl` package
// (musl 1.2.3), unpacked into the matrix tool cache by scripts/fetch-musl.sh.
// It is not installed system-wide: on a glibc system that would itself be the
// case under test ("musl beside glibc"), and it would change what every other
// test on the machine sees.

export const MUSL_DIR = join(process.env.INSTALL_BEACON_MATRIX_CACHE || join(homedir(), '.cache', 'install-beacon-matrix'), 'musl-deb');
/** <MUSL_DIR>/lib/ld-musl-x86_64.so.1 (a link to musl's libc.so, as the package installs it), if fetched. */
export const MUSL_LOADER = join(MUSL_DIR, 'lib', 'ld-musl-x86_64.so.1');
export const hasMusl = (): boolean => process.platform === 'linux' && process.arch === 'x64' && existsSync(MUSL_LOADER);
