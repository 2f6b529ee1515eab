import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import { baseEnv, ROOT, run, type RunResult } from './process.js';

// Packed fixtures: install-beacon itself (npm pack of this repo, built) and
// acme-lib, a package that uses it, as an author would wire it.

/**
 * How to start npm, as [file, ...leading args]. On Windows npm is npm.cmd, a
 * batch file, which Node 18.20.2+ and 20.12.2+ refuse to spawn without a shell
 * (EINVAL: the CVE-2024-27980 fix), and handing arguments to `shell: true` is
 * deprecated (DEP0190: they are not escaped). So on Windows this Node runs
 * npm's own JavaScript entry, npm-cli.js, with the arguments passed as they
 * are: the one npm runs this test (npm_execpath, set by `npm test`), else the
 * one installed next to node.exe.
 */
export const NPM_COMMAND: readonly [string, ...string[]] = (() => {
  if (process.platform !== 'win32') return ['npm'] as const;
  const cli = [process.env.npm_execpath, join(dirname(process.execPath), 'node_modules', 'npm', 'bin', 'npm-cli.js')].find(
    (c): c is string => !!c && /[\\/]npm-cli\.js$/.test(c) && existsSync(c),
  );
  if (!cli) throw new Error('npm-cli.js not found (neither npm_execpath nor next to node.exe): cannot start npm without a shell');
  return [process.execPath, cli] as const;
})();

/** [file, args] to spawn npm with `args`, on every OS, without a shell. */
export function npmArgv(args: string[]): [string, string[]] {
  return [NPM_COMMAND[0], [...NPM_COMMAND.slice(1), ...args]];
}

/** The npm command on Linux and macOS (the fault suite and matrix, which run there); elsewhere use npmArgv. */
const NPM = 'npm';

/**
 * The folder `npm pack` of this repo ships (built dist/, README, LICENSE and the
 * published package.json of scripts/manifest.mjs), staged in a fresh folder
 * under `dest`. The repo's own `npm pack` swaps package.json in its prepack,
 * which must not happen under the other test files' feet.
 */
export function stageBeacon(dest: string): string {
  const staged = mkdtempSync(join(dest, 'install-beacon-stage-'));
  const manifest = pathToFileURL(join(ROOT, 'scripts/manifest.mjs')).href;
  execFileSync(process.execPath, ['-e', `import(${JSON.stringify(manifest)}).then((m) => m.stage(${JSON.stringify(staged)}))`]);
  return staged;
}

/** npm pack this repo (as stageBeacon stages it) into `dest`; returns the tarball path. */
export function packBeacon(dest: string): string {
  const out = execFileSync(...npmArgv(['pack', stageBeacon(dest), '--pack-destination', dest, '--ignore-scripts', '--silent']), { encoding: 'utf8' });
  return join(dest, out.trim().split('\n').pop()!.trim());
}

/** A main module that reports the install at load, as the README shows it (the runtime trigger). */
export const REPORTING_MAIN = "require('install-beacon').reportInstall(__filename);\nmodule.exports = 42;\n";

export interface AcmeOptions {
  name?: string;
  version?: string;
  installBeacon?: unknown;
  postinstall?: string;
  /** Extra package.json fields. */
  extra?: Record<string, unknown>;
  /** Contents of index.js. */
  main?: string;
}

/** Write and pack a package that uses install-beacon; returns the tarball path. */
export function packAcme(dest: string, options: AcmeOptions = {}): string {
  const name = options.name ?? 'acme-lib';
  const dir = join(dest, `src-${name.replace(/[^a-z0-9]/gi, '_')}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir, { recursive: true });
  const pkg = {
    name,
    version: options.version ?? '2.3.4',
    main: 'index.js',
    scripts: { postinstall: options.postinstall ?? 'install-beacon || exit 0' }, // the README's line
    dependencies: { 'install-beacon': '^1.0.0' },
    installBeacon: options.installBeacon,
    ...options.extra,
  };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
  writeFileSync(join(dir, 'index.js'), options.main ?? 'module.exports = 42;\n');
  // Pack into the fixture's own folder: every call gets its own tarball path.
  execFileSync(...npmArgv(['pack', dir, '--pack-destination', dir, '--silent']), { encoding: 'utf8' });
  const made = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  if (!made) throw new Error(`npm pack of ${name} produced no tarball`);
  return join(dir, made);
}

/** npm flags for installing local tarballs with no registry at all (a dead loopback port, no retries). */
export const NPM_LOCAL = ['--no-audit', '--no-fund', '--prefer-offline', '--fetch-retries=0', '--registry=http://127.0.0.1:9/', '--loglevel=error'];

/** Run npm with local tarballs only, a HOME and an npm cache of the test's own. */
export function npmLocal(cwd: string, args: string[], home: string, extra: Record<string, string | undefined> = {}): Promise<RunResult> {
  return run(...npmArgv([...args, ...NPM_LOCAL]), { cwd, env: baseEnv(home, { npm_config_cache: join(home, 'npm-cache'), ...extra }), timeoutMs: 120_000 });
}

export function writeProject(dir: string, pkg: Record<string, unknown> = {}): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'test-project', version: '1.0.0', private: true, ...pkg }, null, 2));
}

export { NPM };
