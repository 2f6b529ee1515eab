import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NPM, NPM_LOCAL, packAcme, packBeacon, writeProject } from '../../test/support/fixture.js';
import { baseEnv } from '../../test/support/process.js';

// Everything the bench installs, under one temp dir: packed tarballs, one
// installed tree holding every fixture package (installed with
// --ignore-scripts, so each hook run is started by the bench itself), and
// @scarf/scarf 1.4.0 fetched once from the npm registry.

export const SCARF = '@scarf/scarf@1.4.0';

/** The fixture packages that use install-beacon, by delivery and endpoint. */
export const HOOK_PACKAGES = ['acme-bg-local', 'acme-bg-hole', 'acme-inline-local', 'acme-inline-hole', 'acme-bg-fields', 'acme-inline-fields'] as const;
export type HookPackage = (typeof HOOK_PACKAGES)[number];

export interface Fixtures {
  root: string;
  home: string;
  /** TMPDIR for every subject (@scarf/scarf keeps its notice throttle file there). */
  tmp: string;
  beaconTgz: string;
  scarfTgz: string;
  /** acme-* tarballs by name. */
  tgz: Record<string, string>;
  /** The installed tree (a project folder). */
  tree: string;
  npmVersion: string;
  /** Environment for subjects: baseEnv plus what npm gives a lifecycle script. */
  hookEnv(extra?: Record<string, string | undefined>): Record<string, string>;
  installEnv(extra?: Record<string, string | undefined>): Record<string, string>;
}

export const TIMEOUT_MS = 1500;
/** The query the *-fields fixtures add to the same template. */
export const FIELDS = '?direct={direct}&libc_version={libc_version}';

export function makeFixtures(ports: { collector: number; hole: number }): Fixtures {
  const root = mkdtempSync(join(tmpdir(), 'ib-bench-'));
  const home = join(root, 'home');
  const tmp = join(root, 'tmp');
  const pkgs = join(root, 'pkgs');
  for (const d of [home, tmp, pkgs]) mkdirSync(d, { recursive: true });
  const npmVersion = execFileSync(NPM, ['--version'], { encoding: 'utf8' }).trim();

  const common = { TMPDIR: tmp };
  const installEnv = (extra: Record<string, string | undefined> = {}) => baseEnv(home, { ...common, ...extra });
  const tree = join(root, 'tree');
  const hookEnv = (extra: Record<string, string | undefined> = {}) =>
    baseEnv(home, {
      ...common,
      INIT_CWD: tree,
      npm_lifecycle_event: 'postinstall',
      npm_command: 'install',
      npm_config_user_agent: `npm/${npmVersion} node/${process.version} ${process.platform} ${process.arch} workspaces/false`,
      ...extra,
    });

  const beaconTgz = packBeacon(pkgs);

  // The peer, installed from the registry without its script, then packed so
  // that fixture installs need no registry.
  const scarfSrc = join(root, 'scarf-src');
  writeProject(scarfSrc);
  execFileSync(NPM, ['install', SCARF, '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: scarfSrc, env: installEnv(), stdio: 'ignore' });
  execFileSync(NPM, ['pack', join(scarfSrc, 'node_modules/@scarf/scarf'), '--pack-destination', pkgs, '--ignore-scripts', '--silent'], { env: installEnv(), stdio: 'ignore' });
  const scarfTgz = join(pkgs, readdirSync(pkgs).find((f) => f.startsWith('scarf-scarf-'))!);

  // Each fixture depends on its reporter by a file: tarball spec, so that one
  // tarball installs with no registry and the reporter is a true dependency
  // (at the project's top level @scarf/scarf refuses to report).
  const ib = { 'install-beacon': `file:${beaconTgz}` };
  const url = (port: number) => `http://127.0.0.1:${port}/{name}/{version}/{platform}/{arch}`;
  const tgz: Record<string, string> = {
    'acme-bg-local': packAcme(pkgs, { name: 'acme-bg-local', installBeacon: { url: url(ports.collector), delivery: 'background' }, extra: { dependencies: ib } }),
    'acme-bg-hole': packAcme(pkgs, { name: 'acme-bg-hole', installBeacon: { url: url(ports.hole), delivery: 'background' }, extra: { dependencies: ib } }),
    'acme-inline-local': packAcme(pkgs, { name: 'acme-inline-local', installBeacon: { url: url(ports.collector), delivery: 'inline', timeoutMs: TIMEOUT_MS }, extra: { dependencies: ib } }),
    'acme-inline-hole': packAcme(pkgs, { name: 'acme-inline-hole', installBeacon: { url: url(ports.hole), delivery: 'inline', timeoutMs: TIMEOUT_MS }, extra: { dependencies: ib } }),
    // Issue 14's fields: the same sends with a template that also names {direct} and {libc_version}.
    'acme-bg-fields': packAcme(pkgs, { name: 'acme-bg-fields', installBeacon: { url: `${url(ports.collector)}${FIELDS}`, delivery: 'background' }, extra: { dependencies: ib } }),
    'acme-inline-fields': packAcme(pkgs, { name: 'acme-inline-fields', installBeacon: { url: `${url(ports.collector)}${FIELDS}`, delivery: 'inline', timeoutMs: TIMEOUT_MS }, extra: { dependencies: ib } }),
    // As an author would ship it: no delivery setting ("auto": inline here, in a container).
    'acme-auto-local': packAcme(pkgs, { name: 'acme-auto-local', installBeacon: { url: url(ports.collector) }, extra: { dependencies: ib } }),
    // The runtime trigger: its index.js reports the install when required.
    'acme-runtime': packAcme(pkgs, {
      name: 'acme-runtime',
      installBeacon: { url: url(ports.collector), delivery: 'background' },
      extra: { dependencies: ib },
      // As the README shows it: required once, called at load; calls() repeats the call for the per-call figure.
      main: "'use strict';\nconst { reportInstall } = require('install-beacon');\nreportInstall(__filename);\nmodule.exports = { reportInstall: () => reportInstall(__filename) };\n",
    }),
    // The cheapest possible postinstall, for what npm itself adds to run one (a shell, then node).
    'acme-ref': packAcme(pkgs, { name: 'acme-ref', postinstall: 'node -e 0', extra: { dependencies: ib } }),
    // A package that uses @scarf/scarf as its docs say: a dependency, whose own postinstall reports.
    'acme-scarf': packAcme(pkgs, { name: 'acme-scarf', extra: { scripts: {}, dependencies: { '@scarf/scarf': `file:${scarfTgz}` } } }),
  };

  writeProject(tree);
  execFileSync(NPM, ['install', ...Object.values(tgz), '--ignore-scripts', ...NPM_LOCAL], { cwd: tree, env: installEnv(), stdio: 'ignore' });

  return { root, home, tmp, beaconTgz, scarfTgz, tgz, tree, npmVersion, hookEnv, installEnv };
}
