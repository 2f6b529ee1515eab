import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

// The package managers under test, as data: how to get each one from the npm
// registry, how to point it at the local registry, how to install a package
// with it, and what its documented default is for a dependency's postinstall
// (research: /work/shared/research/package-managers.md, re-measured by this run).

export interface Project {
  app: string;
  home: string;
  registry: string;
  pkg: Record<string, unknown>;
}

export interface Manager {
  id: string;
  label: string;
  /** What `{pm}` must be. */
  pm: 'npm' | 'pnpm' | 'yarn' | 'bun' | 'deno';
  /** The registry package and range the tool is installed from. */
  tool: { name: string; range: string; bin: string };
  /** Node major the manager needs when the host's is too old (npm 12). */
  node?: { version: string; whenHostBelow: [number, number] };
  /** Does a dependency's postinstall run with default settings? */
  runsByDefault: boolean;
  /** How an end user allows acme-lib's postinstall (shown in the README table). */
  allowHow: string;
  /** Extra environment for this manager (given the case's HOME). */
  env?(home: string): Record<string, string>;
  /** Write the manager's own config for a fresh project (registry, age gates, linker). */
  configure(p: Project): void;
  /** Change the project so acme-lib's postinstall is allowed, the way allowHow says. */
  allow(p: Project): void;
  add(pkgs: string[]): string[];
  /** Deno runs a dependency's postinstall on itself (its Node compatibility layer), not on the node on PATH. */
  hookOnSelf?: boolean;
  /** Arguments added to `add` when the postinstall is allowed (deno: a flag, not a setting). */
  allowArgs?(pkgs: string[]): string[];
  /** Re-run the dependency's install scripts in the same install (npm rebuild, pnpm rebuild, yarn rebuild). */
  rebuild?: string[];
  /** A global install with the postinstall allowed: arguments, and what the environment needs (a prefix inside HOME). */
  global?(pkgs: string[], home: string): { argv: string[]; env?: Record<string, string>; path?: string[]; how: string };
}

const write = (file: string, text: string) => writeFileSync(file, text);
const npmrc = (p: Project) => write(join(p.home, '.npmrc'), `registry=${p.registry}\naudit=false\nfund=false\nupdate-notifier=false\n`);

const npm = (major: 10 | 11 | 12): Manager => ({
  id: `npm${major}`,
  label: `npm ${major}`,
  pm: 'npm',
  tool: { name: 'npm', range: String(major), bin: 'npm' },
  node: major === 12 ? { version: '24.21.0', whenHostBelow: [22, 22] } : undefined,
  runsByDefault: major < 12,
  allowHow:
    major === 10
      ? '(runs by default)'
      : major === 11
        ? '(runs by default, with a warning; the case adds `"allowScripts": {"acme-lib": true}` to package.json, as for npm 12)'
        : '`"allowScripts": {"acme-lib": true}` in package.json',
  configure: npmrc,
  allow(p) {
    if (major !== 10) p.pkg.allowScripts = { 'acme-lib': true };
  },
  add: (pkgs) => ['install', ...pkgs, '--loglevel=error'],
  rebuild: ['rebuild', '--loglevel=error'],
  global: (pkgs, home) => ({
    argv: ['install', '--global', ...pkgs, '--loglevel=error', ...(major === 12 ? pkgs.map((n) => `--allow-scripts=${n}`) : [])],
    env: { npm_config_prefix: join(home, 'npm-global') },
    how: `npm install -g ${major === 12 ? pkgs.map((n) => `--allow-scripts=${n} `).join('') : ''}${pkgs.join(' ')}`,
  }),
});

const pnpm = (range: '10' | 'latest'): Manager => ({
  id: range === '10' ? 'pnpm10' : 'pnpm-latest',
  label: range === '10' ? 'pnpm 10' : 'pnpm latest',
  pm: 'pnpm',
  tool: { name: 'pnpm', range, bin: 'pnpm' },
  runsByDefault: false,
  allowHow: range === '10' ? '`onlyBuiltDependencies: [acme-lib]` in pnpm-workspace.yaml' : '`allowBuilds: {acme-lib: true}` in pnpm-workspace.yaml',
  configure(p) {
    npmrc(p);
    // pnpm 11+ quarantines versions younger than minimumReleaseAge: ours were published seconds ago.
    write(join(p.app, 'pnpm-workspace.yaml'), 'minimumReleaseAge: 0\n');
  },
  allow(p) {
    const line = range === '10' ? 'onlyBuiltDependencies:\n  - acme-lib\n  - other-lib\n' : 'allowBuilds:\n  acme-lib: true\n  other-lib: true\n';
    write(join(p.app, 'pnpm-workspace.yaml'), `minimumReleaseAge: 0\n${line}`);
  },
  add: (pkgs) => ['add', ...pkgs, '--reporter=append-only'],
  rebuild: ['rebuild', '--reporter=append-only'],
  global(pkgs, home) {
    // pnpm's default global home on Linux; the global packages land in <PNPM_HOME>/global/.
    const pnpmHome = join(home, '.local', 'share', 'pnpm');
    return {
      argv: ['add', '--global', ...pkgs.map((n) => `--allow-build=${n}`), ...pkgs, '--reporter=append-only'],
      env: { PNPM_HOME: pnpmHome, pnpm_config_minimum_release_age: '0', npm_config_minimum_release_age: '0' },
      // pnpm 11+ also insists that its global bin folder is on PATH.
      path: [pnpmHome, join(pnpmHome, 'bin')],
      how: `pnpm add -g ${pkgs.map((n) => `--allow-build=${n} `).join('')}${pkgs.join(' ')}`,
    };
  },
});

const yarn1: Manager = {
  id: 'yarn1',
  label: 'yarn 1',
  pm: 'yarn',
  tool: { name: 'yarn', range: '1', bin: 'yarn' },
  runsByDefault: true,
  allowHow: '(runs by default)',
  // The self-update check would ask the public registry. (Berry reads YARN_* as its own settings and rejects this one.)
  // As root, yarn 1 keeps its cache and global folder in /usr/local/share, not HOME: point both into the case.
  env: (home) => ({ YARN_DISABLE_SELF_UPDATE_CHECK: 'true', YARN_CACHE_FOLDER: join(home, '.cache', 'yarn') }),
  configure(p) {
    npmrc(p);
    write(join(p.home, '.yarnrc'), `registry "${p.registry}"\ndisable-self-update-check true\n`);
  },
  allow() {},
  add: (pkgs) => ['add', ...pkgs, '--non-interactive', '--no-progress'],
  // yarn global add: packages in --global-folder, bins in --prefix (both inside HOME).
  global: (pkgs, home) => ({
    argv: ['global', 'add', ...pkgs, '--non-interactive', '--no-progress', '--prefix', join(home, 'yarn-prefix'), '--global-folder', join(home, '.config', 'yarn', 'global')],
    how: `yarn global add ${pkgs.join(' ')}`,
  }),
};

const berry = (linker: 'node-modules' | 'pnp'): Manager => ({
  id: `berry-${linker}`,
  label: `yarn 4 (${linker === 'pnp' ? 'PnP' : 'node-modules'})`,
  pm: 'yarn',
  tool: { name: '@yarnpkg/cli-dist', range: '4', bin: 'yarn' },
  runsByDefault: false,
  allowHow: '`"dependenciesMeta": {"acme-lib": {"built": true}}` in package.json',
  configure(p) {
    write(
      join(p.app, '.yarnrc.yml'),
      [
        `npmRegistryServer: "${p.registry.replace(/\/$/, '')}"`,
        'unsafeHttpWhitelist: ["127.0.0.1"]',
        // Berry quarantines versions younger than a day: ours were published seconds ago.
        'npmMinimalAgeGate: 0',
        `nodeLinker: ${linker}`,
        'enableTelemetry: false',
        '',
      ].join('\n'),
    );
    write(join(p.app, 'yarn.lock'), '');
  },
  allow(p) {
    p.pkg.dependenciesMeta = { 'acme-lib': { built: true }, 'other-lib': { built: true } };
  },
  add: (pkgs) => ['add', ...pkgs],
  rebuild: ['rebuild'],
});

const bun: Manager = {
  id: 'bun',
  label: 'bun',
  pm: 'bun',
  tool: { name: 'bun', range: 'latest', bin: 'bun' },
  runsByDefault: false,
  allowHow: '`"trustedDependencies": ["acme-lib"]` in package.json',
  configure(p) {
    npmrc(p);
    const toml = `telemetry = false\n\n[install]\nregistry = "${p.registry}"\n`;
    write(join(p.app, 'bunfig.toml'), toml);
    write(join(p.home, '.bunfig.toml'), toml);
  },
  allow(p) {
    p.pkg.trustedDependencies = ['acme-lib', 'other-lib'];
  },
  add: (pkgs) => ['add', ...pkgs],
  // bun add -g: packages in ~/.bun/install/global; --trust allows their postinstall.
  global: (pkgs) => ({ argv: ['add', '--global', '--trust', ...pkgs], how: `bun add -g --trust ${pkgs.join(' ')}` }),
};

// Deno 2 with a package.json: `deno install npm:x` adds it to package.json and
// installs into node_modules (its store is node_modules/.deno). Scripts run only
// with --allow-scripts; there is no global install of a library (deno install -g
// installs an executable).
const deno: Manager = {
  id: 'deno',
  label: 'deno',
  pm: 'deno',
  tool: { name: 'deno', range: '2', bin: 'deno' },
  runsByDefault: false,
  hookOnSelf: true,
  allowHow: '`deno install --allow-scripts=npm:acme-lib`',
  env: (home) => ({ DENO_DIR: join(home, '.cache', 'deno'), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' }),
  configure(p) {
    npmrc(p);
    write(join(p.app, '.npmrc'), `registry=${p.registry}\n`);
  },
  allow() {},
  allowArgs: (pkgs) => [`--allow-scripts=${pkgs.map((n) => `npm:${n}`).join(',')}`],
  // The age gate (24 h by default) would refuse the just-published fixtures, as yarn's and pnpm's would.
  add: (pkgs) => ['install', '--minimum-dependency-age=0', ...pkgs.map((n) => `npm:${n}`)],
};

export const MANAGERS: Manager[] = [npm(10), npm(11), npm(12), pnpm('10'), pnpm('latest'), yarn1, berry('node-modules'), berry('pnp'), bun, deno];
