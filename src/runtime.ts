const path = require('path') as typeof import('path'); // not `import * as`: see NAMESPACE_COPY in scripts/build.mjs
import { fileURLToPath } from 'url';
import { claimInstall } from './decide.js';
import { currentHost } from './env.js';
import { decideHere, printDebug, startSender } from './hook.js';
import { markerFallbackDir } from './machine.js';
import { isReported, markerLocations } from './marker.js';
import { envOptOut, insideNodeModules, isOn } from './optout.js';
import { realMarkerFs, realProbes } from './probes.js';

// The runtime trigger: `reportInstall(__filename)` at the top of a package's
// main module counts installs whose postinstall never ran (npm 12, pnpm 10+,
// yarn berry and bun block dependency scripts by default; --ignore-scripts).
//
// Cost: the first call in a process does the cheap checks synchronously (the
// environment, then two stats: the package's package.json and the marker) and
// returns; everything else runs on a later tick. Later calls in the same
// process are a Map lookup.
//
// Delivery: a detached sender process, as for background delivery in the
// hook. The host program never waits for it and exits when it would have
// anyway; a short CLI run still delivers, because the sender outlives it. An
// in-process request cannot promise both: a pending DNS lookup or TCP connect
// keeps Node's event loop alive even with the socket unref'd, so a firewall
// that drops packets would hold every short run open until the deadline.

/** Calls already handled in this process (reported, skipped for good, or in progress). */
const handled = new Set<string>();

/** The package folder for a file or folder inside an installed package: the path up to `node_modules/<name>` or `node_modules/@scope/<name>`. */
export function packageDirOf(file: string): string | undefined {
  const m = /^(.*[\\/]node_modules[\\/](?:@[^\\/]+[\\/])?[^\\/]+)(?:[\\/]|$)/.exec(file);
  return m ? m[1] : undefined;
}

function toPath(from: string | URL): string {
  const text = String(from);
  return text.startsWith('file:') ? fileURLToPath(text) : text;
}

export function reportInstall(from: string | URL): void {
  try {
    if (typeof process === 'undefined' || !process.versions || !process.versions.node) return; // a browser
    if (process.versions.bun || 'Deno' in globalThis) return; // not verified there: do nothing rather than guess
    const key = String(from);
    if (handled.has(key)) return;
    const host = currentHost();
    // Opt-outs are read afresh on every call and never remembered as "reported".
    if (envOptOut(host.env)) return;
    const file = toPath(from);
    const pkgDir = packageDirOf(file);
    if (!pkgDir || !insideNodeModules(pkgDir)) {
      handled.add(key); // the author's own repo (or not an installed package): never report from here
      return;
    }
    const markers = markerLocations(pkgDir, realMarkerFs, () => packageId(pkgDir), markerFallbackDir(host.env, host.platform));
    if (isReported(markers, realMarkerFs, Date.now())) {
      handled.add(key);
      return;
    }
    handled.add(key);
    setImmediate(() => {
      try {
        runtimeSend(pkgDir);
      } catch {
        // Never let a failure reach the host program.
      }
    });
  } catch {
    // reportInstall never throws.
  }
}

function packageId(pkgDir: string): string {
  const pkg = realProbes.readJson(`${pkgDir}/package.json`) as { name?: unknown; version?: unknown } | undefined;
  return `${String(pkg?.name ?? 'unknown')}@${String(pkg?.version ?? 'unknown')}`;
}

function runtimeSend(pkgDir: string): void {
  const host = currentHost();
  const decision = decideHere(host, pkgDir, 'runtime');
  if (isOn(host.env.INSTALL_BEACON_DEBUG)) return printDebug(decision);
  if (!decision.send || !decision.url) return;
  const bin = senderBin(pkgDir);
  if (!bin) return; // nothing could send it: claim nothing, a later start may find it
  const claim = claimInstall(decision, realMarkerFs, Date.now());
  // 'taken': another process or thread reports it. 'unwritable': without a
  // marker every process start would send, so send nothing.
  if (claim.result !== 'claimed') return;
  startSender(host.execPath, bin, { url: decision.url, trigger: 'runtime', marker: claim.location }, pkgDir, pnpArgs(bin));
}

/**
 * Under Yarn PnP, install-beacon itself lives in a zip that only a process with
 * PnP's runtime can read: start the sender with the project's .pnp.cjs loaded
 * (the host may have had it from `-r`, which children do not inherit).
 */
export function pnpArgs(bin: string): string[] {
  const m = /^(.*?)[\\/]\.yarn[\\/](?:cache|__virtual__)[\\/].*\.zip[\\/]/.exec(bin);
  if (!m) return [];
  const pnp = path.join(m[1] ?? '', '.pnp.cjs');
  return realProbes.exists(pnp) ? ['--require', pnp] : [];
}

/**
 * The sender: dist/bin.cjs beside this file, or, when a bundler copied this
 * code into another package's file, install-beacon's own bin.cjs as Node
 * would resolve it from the package folder (an author who bundles
 * install-beacon still lists it as a dependency, for the postinstall hook).
 */
function senderBin(pkgDir: string): string | undefined {
  const beside = path.join(distDir(), 'bin.cjs');
  if (realProbes.exists(beside)) return beside;
  try {
    return path.join(path.dirname(require.resolve('install-beacon/package.json', { paths: [pkgDir] })), 'dist', 'bin.cjs');
  } catch {
    return undefined; // an ESM bundle (no require) or no install-beacon installed
  }
}

/** The folder holding this file in dist/ (bin.cjs lives beside it). */
function distDir(): string {
  return typeof __dirname === 'string' ? __dirname : process.cwd();
}
