const fs = require('fs') as typeof import('fs'); // not `import * as`: see NAMESPACE_COPY in scripts/build.mjs
const path = require('path') as typeof import('path'); // not `import * as`: see NAMESPACE_COPY in scripts/build.mjs
import { isObject } from './config.js';
import { findInvocations, mentionsBeacon } from './lifecycle.js';
import { installTarget } from './layout.js';
import { realProbes } from './probes.js';

// Finding the installed packages that use install-beacon, for `explain`.

export interface Found {
  dir: string;
  pkg: Record<string, unknown>;
  /** A URL template passed on the postinstall command line, if any. */
  positional?: string;
}


/** The template in `"postinstall": "install-beacon <url>"`, as the shell passes it, if the script has one. */
export function positionalFromScripts(pkg: Record<string, unknown>): string | undefined {
  const scripts = isObject(pkg.scripts) ? pkg.scripts : {};
  return findInvocations(scripts).find((i) => i.positional !== undefined)?.positional;
}

/**
 * True for a package that uses install-beacon (runs it from an install script,
 * or configures a URL). `"installBeacon": {"enabled": false}` alone is a
 * project's opt-out, the way the README tells end users to write it, not an
 * author's config.
 */
export function usesBeacon(pkg: Record<string, unknown>): boolean {
  if (pkg.name === 'install-beacon') return false;
  const scripts = isObject(pkg.scripts) ? pkg.scripts : {};
  if (mentionsBeacon(scripts)) return true;
  const own = pkg.installBeacon;
  if (typeof own === 'string') return true;
  return isObject(own) && Object.keys(own).some((k) => k !== 'enabled');
}

/**
 * The project `explain` and `status` describe when run in `cwd`: the project an
 * install started there installs into (layout.ts: the nearest folder with a
 * package.json or node_modules, or the workspace root listing it as a member),
 * so `explain` in a subfolder or a workspace member agrees with the hook.
 */
export function projectDirOf(cwd: string): string {
  return installTarget(cwd, realProbes);
}

function readPkg(dir: string): Record<string, unknown> | undefined {
  const pkg = realProbes.readJson(path.join(dir, 'package.json'));
  return isObject(pkg) ? pkg : undefined; // not a package, or a broken one: nothing to explain
}

const list = realProbes.listDir;

/** Every package under `root/node_modules` (npm, yarn, bun, pnpm's .pnpm store, nested copies) that uses install-beacon. */
export function findBeaconPackages(root: string, limit = 50_000): Found[] {
  const found: Found[] = [];
  const seen = new Set<string>();
  let visited = 0;
  const visitPackage = (dir: string, depth: number): void => {
    let real: string;
    try {
      real = fs.realpathSync(dir);
    } catch {
      return;
    }
    if (seen.has(real) || ++visited > limit) return;
    seen.add(real);
    const pkg = readPkg(real);
    if (pkg && usesBeacon(pkg)) found.push({ dir: real, pkg, positional: positionalFromScripts(pkg) });
    if (depth < 12) visitModules(path.join(real, 'node_modules'), depth + 1);
  };
  const visitModules = (nm: string, depth: number): void => {
    for (const entry of list(nm)) {
      if (entry === '.pnpm') {
        for (const store of list(path.join(nm, entry))) visitModules(path.join(nm, entry, store, 'node_modules'), depth);
      } else if (entry.startsWith('@')) {
        for (const scoped of list(path.join(nm, entry))) visitPackage(path.join(nm, entry, scoped), depth);
      } else if (!entry.startsWith('.')) {
        visitPackage(path.join(nm, entry), depth);
      }
    }
  };
  visitModules(path.join(root, 'node_modules'), 0);
  return found.sort((a, b) => String(a.pkg.name).localeCompare(String(b.pkg.name)));
}

export { readPkg };
