import { currentHost, nodeMajor } from './env.js';
import { envOptOut, insideNodeModules, isOn } from './optout.js';

// The executable. Kept tiny: the common skip paths (an opt-out, the author's
// own install, old Node) finish here without loading anything else. Built for
// Node 12 syntax so that old Node parses it and exits 0.

declare const __filename: string;

const POSTINSTALL_ONLY_SKIPS = (): boolean => {
  const host = currentHost();
  if (isOn(host.env.INSTALL_BEACON_DEBUG)) {
    // Debug explains every path; the rules (and core.cjs's syntax) need Node 18, so old Node is explained here.
    if (nodeMajor(host.nodeVersion) >= 18) return false;
    process.stderr.write(`install-beacon: skip [rule: node-version] Node.js ${host.nodeVersion} is older than 18: nothing is sent\n`);
    return true;
  }
  return nodeMajor(host.nodeVersion) < 18 || !!envOptOut(host.env) || !insideNodeModules(host.cwd);
};

function main(): void {
  const args = process.argv.slice(2);
  const postinstallMode = args.length === 0 || /^https?:\/\//i.test(args[0] ?? '');
  if (postinstallMode) {
    // Whatever happens from here on, an install is never failed by install-beacon.
    process.on('uncaughtException', () => process.exit(0));
    process.on('unhandledRejection', () => process.exit(0));
    if (POSTINSTALL_ONLY_SKIPS()) return;
  } else if (nodeMajor(process.versions.node) < 18) {
    process.stderr.write('install-beacon: needs Node.js 18 or newer\n');
    process.exitCode = 1;
    return;
  }
  // A closed stderr/stdout (EPIPE) must not turn into a crash. Not before the
  // skips: the first touch of process.stdout/stderr loads Node's stream (and,
  // on the pipes npm gives a script, net) modules, 24 of them, which the skip
  // paths never write to (see BENCHMARKS.md).
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);
  // dist/core.cjs: the decision code, shipped once (scripts/build.mjs keeps it a separate file).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const cli = require('./core.cjs') as typeof import('./core.js');
  cli.run(args, __filename, currentHost().env).then(
    // A hook exits now rather than wait on leftovers (a pending DNS lookup past the
    // deadline). A command lets its output drain first (stdout may be an async pipe).
    (code) => (postinstallMode ? process.exit(0) : (process.exitCode = code)),
    () => (postinstallMode ? process.exit(0) : (process.exitCode = 1)),
  );
}

try {
  main();
} catch {
  // Only reachable in postinstall mode before the handlers exist, or on a broken
  // install of install-beacon itself: never fail the user's install for it.
  process.exitCode = 0;
}
