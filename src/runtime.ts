const path = require('path') as typeof import('path'); // not `import * as`: see NAMESPACE_COPY in scripts/build.mjs
import { fileURLToPath } from 'url';
import { claimInstall } from './decide.js';
import { currentHost } from './env.js';
import { decideHere, printDebug, say, startSender } from './hook.js';
import { denoCacheDirOf, installSite, packageDirOf, type InstallSite } from './layout.js';
import { isReported, markerLocation, underFreshLayer } from './marker.js';
import { envOptOut, isOn } from './optout.js';
import { isDeno, pnpFileFor, readPackageJson, realMarkerFs, realProbes } from './probes.js';

// The runtime trigger: `reportInstall(__filename)` at the top of a package's
// main module counts installs whose postinstall never ran (npm 12, pnpm 10+,
// yarn berry and bun block dependency scripts by default; --ignore-scripts).
//
// Runtimes: Node 18+, Bun, and Deno 2 when the program was granted what
// reporting touches (denoGrants); nothing in browsers, edge runtimes or Electron.
//
// Cost: the first call in a process does the cheap checks synchronously (the
// environment, then one read of the package's package.json, for its name,
// version and mtime from one open, and one stat of the marker) and returns;
// everything else runs on a later tick. Later calls in the same process are a
// Set lookup.
//
// Delivery: a detached sender process, as for background delivery in the
// hook. The host program never waits for it and exits when it would have
// anyway; a short CLI run still delivers, because the sender outlives it. An
// in-process request cannot promise both: a pending DNS lookup or TCP connect
// keeps Node's event loop alive even with the socket unref'd, so a firewall
// that drops packets would hold every short run open until the deadline.

/** Calls already handled in this process (reported, skipped for good, or in progress). */
const handled = new Set<string>();

export { packageDirOf };

function toPath(from: string | URL): string {
  const text = String(from);
  return text.startsWith('file:') ? fileURLToPath(text) : text;
}

/** The runtimes reportInstall works in; undefined where it does nothing. */
export type Runtime = 'node' | 'bun' | 'deno';

/**
 * Where reportInstall can run at all. Not in a browser or an edge runtime (no
 * process.versions.node); not in Electron, where process.execPath is the app
 * itself, so starting the sender would launch a second copy of the app. Node,
 * Bun (process.execPath is bun, which runs bin.cjs) and Deno (only with the
 * permissions denoGrants checks).
 */
export function runtimeOf(versions: Record<string, string | undefined> | undefined, hasDeno: boolean): Runtime | undefined {
  if (!versions || !versions.node || versions.electron) return undefined;
  if (hasDeno) return 'deno';
  return versions.bun ? 'bun' : 'node';
}

/** A Deno permission descriptor (the subset used here). */
export interface PermissionDescriptor {
  name: 'read' | 'write' | 'env' | 'run';
  path?: string;
  command?: string;
}

/**
 * Under Deno: has the program already been granted everything reporting
 * touches? Only queried (a query never prompts), before anything is touched:
 * in Deno, reading an ungranted variable, file or the executable's path
 * prompts on a terminal and throws elsewhere. Needed: every environment
 * variable (opt-outs, CI detection, proxies are read by name, and a missing
 * grant for any one of them would prompt), reading every path (the package,
 * its marker, the project's package.json and its ancestors' (workspace
 * roots), the machine opt-out file, container probes), writing the tree's
 * marker folder, and running the deno executable (the sender). `-A` grants all
 * of them. Without `markerDir` (no installed tree: only the debug line may be
 * printed) the environment and reading (process.cwd() and process.execPath
 * read the file system under Deno).
 */
export function denoGrants(query: (d: PermissionDescriptor) => string, markerDir: string | undefined, execPath: () => string): boolean {
  if (query({ name: 'env' }) !== 'granted' || query({ name: 'read' }) !== 'granted') return false;
  if (markerDir === undefined) return true;
  if (query({ name: 'write', path: markerDir }) !== 'granted') return false;
  // Deno.execPath() itself needs read permission: asked only now that read is granted.
  return query({ name: 'run', command: execPath() }) === 'granted';
}

interface DenoGlobal {
  permissions: { querySync(d: PermissionDescriptor): { state: string } };
  execPath(): string;
  mainModule: string;
}

/** The program Deno runs, when it is a local file: {direct} in Deno's npm cache reads its project. */
const denoMainModule = (): string | undefined => {
  const main = (globalThis as unknown as { Deno: DenoGlobal }).Deno.mainModule;
  return /^file:/.test(main) ? toPath(main) : undefined;
};

function denoAllows(markerDir: string | undefined): boolean {
  try {
    const deno = (globalThis as unknown as { Deno: DenoGlobal }).Deno;
    return denoGrants((d) => deno.permissions.querySync(d).state, markerDir, () => deno.execPath());
  } catch {
    return false; // an older Deno without querySync: do nothing rather than risk a prompt
  }
}

export function reportInstall(from: string | URL): void {
  try {
    if (typeof process === 'undefined') return;
    const runtime = runtimeOf(process.versions, isDeno());
    if (!runtime) return;
    const key = String(from);
    if (handled.has(key)) return;
    // Everything up to the permission check is computed from the path alone:
    // under Deno nothing may be read before the check.
    const file = toPath(from);
    const layout = { pnpFileFor, isDeno };
    const pkgDir = packageDirOf(file) ?? denoCacheDirOf(file, layout);
    // Not remembered as handled: the program may be granted more later.
    if (runtime === 'deno' && !denoAllows(pkgDir && installSite(pkgDir, layout)?.markerDir)) return;
    const host = currentHost();
    // Opt-outs are read afresh on every call and never remembered as "reported".
    if (envOptOut(host.env)) return;
    // A shared pnpm store's package: the project is looked for from here (and asked).
    const site = pkgDir ? installSite(pkgDir, realProbes, undefined, host.cwd) : undefined;
    // The author's own repo, a package in no installed tree, or a PnP cache no
    // loaded runtime serves: no marker can be kept, and a program start is
    // never an install, so never report from here.
    const pkg = site && readPackageJson(`${site.pkgDir}/package.json`);
    if (!site || !pkg) {
      handled.add(key);
      // So an author can confirm the call is wired: one line, only with debug on.
      if (isOn(host.env.INSTALL_BEACON_DEBUG) && !pkgDir) say(`install-beacon: reportInstall(${file}): skip [rule: self-install] not inside node_modules (your own repo): nothing is sent from here; installed as a dependency, it reports once per install`);
      return;
    }
    handled.add(key);
    if (isReported(markerLocation(site, pkg.name, pkg.version), realMarkerFs, Date.now(), pkg.mtimeMs) && !isOn(host.env.INSTALL_BEACON_DEBUG)) return;
    setImmediate(() => {
      try {
        runtimeSend(site, runtime);
      } catch {
        // Never let a failure reach the host program.
      }
    });
  } catch {
    // reportInstall never throws.
  }
}

function runtimeSend(site: InstallSite, runtime: Runtime): void {
  const host = currentHost();
  const debug = isOn(host.env.INSTALL_BEACON_DEBUG);
  // Deno's npm cache is an install outside any node_modules: the site says so, not the path.
  const decision = decideHere(host, site.pkgDir, 'runtime', { describeSkips: debug, asDependency: site.kind === 'deno-npm-cache', probes: { ...realProbes, denoMainModule } });
  if (debug) return printDebug(decision, 'runtime');
  if (!decision.send || !decision.url) return;
  const bin = senderBin(site.pkgDir);
  if (!bin || !runsSender(runtime, host.execPath)) return; // nothing could send it: claim nothing, a later start may find it
  // An image's install seen through a container's fresh layer: a marker would die with the container.
  if (underFreshLayer(site.pkgDir, realMarkerFs)) return;
  const claim = claimInstall(decision, realMarkerFs, Date.now());
  // 'taken': another process or thread reports it. 'unwritable': the tree
  // cannot hold a marker, and without one every process start would send, so
  // send nothing.
  if (claim.result !== 'claimed') return;
  startSender(host.execPath, bin, { url: decision.url, trigger: 'runtime', marker: claim.location }, site.pkgDir, senderArgs(runtime, site));
}

/**
 * Can this executable run bin.cjs? Node can. Under Bun and Deno only the bun
 * and deno binaries themselves: an app compiled into one executable
 * (`bun build --compile`, `deno compile`) is its own execPath, and starting it
 * would start a second copy of the app (as under Electron).
 */
export function runsSender(runtime: Runtime, execPath: string): boolean {
  return runtime === 'node' || /[\\/](bun|deno)(\.exe)?$/i.test(execPath);
}

/**
 * What goes before bin.cjs on the sender's command line. Node: the PnP
 * runtime, if any. Bun runs bin.cjs as it is. Deno: `deno run`, without
 * prompts and without the caller's config, granted only what sending needs:
 * the network, reading (files and variables, as the host was), and writing
 * the marker folder. (Starting it needs the host's run permission for deno,
 * which denoGrants checked.)
 */
export function senderArgs(runtime: Runtime, site: Pick<InstallSite, 'pnpFile' | 'markerDir'>, exists?: (path: string) => boolean): string[] {
  if (runtime === 'bun') return [];
  if (runtime === 'deno') return ['run', '--no-prompt', '--no-config', '--allow-net', '--allow-env', '--allow-read', `--allow-write=${site.markerDir}`];
  return pnpArgs(site, exists);
}

/**
 * Under Yarn PnP, install-beacon itself may live in a zip that only a process
 * with PnP's runtime can read: start the sender with the project's .pnp.cjs
 * loaded (the host may have had it from `-r`, which children do not inherit).
 */
export function pnpArgs(site: Pick<InstallSite, 'pnpFile'>, exists: (path: string) => boolean = (p) => realMarkerFs.stat(p) !== undefined): string[] {
  return site.pnpFile && exists(site.pnpFile) ? ['--require', site.pnpFile] : [];
}

/**
 * The sender: dist/bin.cjs beside this file, or, when a bundler copied this
 * code into another package's file, install-beacon's own bin.cjs as Node
 * would resolve it from the package folder (an author who bundles
 * install-beacon still lists it as a dependency, for the postinstall hook).
 */
function senderBin(pkgDir: string): string | undefined {
  const beside = path.join(distDir(), 'bin.cjs');
  if (realMarkerFs.stat(beside)) return beside;
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
