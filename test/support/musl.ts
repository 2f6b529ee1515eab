import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

// The musl pieces of the libc tests, unpacked or built into the matrix tool
// cache by scripts/fetch-musl.sh (.ci/run runs it when they are missing).
// None is installed system-wide: on a glibc system that would itself be the
// case under test ("musl beside glibc"), and it would change what every other
// test on the machine sees.

const CACHE = process.env.INSTALL_BEACON_MATRIX_CACHE || join(homedir(), '.cache', 'install-beacon-matrix');

/** Debian's `musl` package (musl 1.2.3), unpacked. */
export const MUSL_DIR = join(CACHE, 'musl-deb');
/** <MUSL_DIR>/lib/ld-musl-x86_64.so.1 (a link to musl's libc.so, as the package installs it), if fetched. */
export const MUSL_LOADER = join(MUSL_DIR, 'lib', 'ld-musl-x86_64.so.1');
export const hasMusl = (): boolean => process.platform === 'linux' && process.arch === 'x64' && existsSync(MUSL_LOADER);

/**
 * What a musl-only root needs besides musl to run Bun's musl build: Debian's
 * libstdc++.so.6 and libgcc_s.so.1, the shim for their few glibc-only symbols
 * (named ld-linux-x86-64.so.2, as they ask for it) in usr/lib/x86_64-linux-musl,
 * and a musl-linked usr/bin/env.
 */
export const MUSL_ROOT_LIBS = join(CACHE, 'musl-root-libs');

/** Bun's musl build (@oven/bun-linux-x64-musl, the newest fetched) and its version, or undefined. */
export function bunMusl(): { bin: string; version: string } | undefined {
  const dirs = existsSync(CACHE) ? readdirSync(CACHE).filter((d) => d.startsWith('@oven+bun-linux-x64-musl@') && existsSync(join(CACHE, d, '.complete'))) : [];
  const version = dirs.map((d) => d.slice(d.indexOf('@', 1) + 1)).sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).pop();
  return version ? { bin: join(CACHE, `@oven+bun-linux-x64-musl@${version}`, 'node_modules', '@oven', 'bun-linux-x64-musl', 'bin', 'bun'), version } : undefined;
}

/** Why a musl root cannot be built here, or undefined when it can. */
export function muslRootMissing(): string | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `needs Linux x86_64 (this is ${process.platform} ${process.arch})`;
  if (!hasMusl() || !existsSync(join(MUSL_ROOT_LIBS, '.complete')) || !bunMusl()) return 'musl, its root libraries or Bun\'s musl build are not in the tool cache (run scripts/fetch-musl.sh)';
  return undefined;
}
