import vendors from 'ci-info/vendors.json';
import type { Env } from './env.js';
import { parseJson } from './config.js';
import { detectLibcFamily, type LibcProbes } from './libc.js';

// Facts about the install's context, each computed from an injected `env` and
// injected file probes. Nothing here touches process.* or the file system.

export interface Probes extends LibcProbes {
  /** True if the path exists (never throws). */
  exists(path: string): boolean;
  /** The file's text, or undefined if unreadable (never throws). */
  readText(path: string): string | undefined;
  /** Names in a directory, or [] if unreadable (never throws). */
  listDir(path: string): string[];
  /** is-docker's verdict (/.dockerenv or a docker cgroup). */
  isDocker(): boolean;
}

// ---- CI: ci-info's vendor table (vendors.json), interpreted against `env` ----

type EnvRule = string | { env: string; includes: string } | { any: string[] } | Record<string, string>;
interface Vendor { name: string; constant: string; env: EnvRule | EnvRule[] }

// Equivalent mutants (npm run test:mutation) for every rule in ci-info's
// vendors.json: `&&` → `||` in the shape tests (an {env, includes} rule always
// has both keys, an {any} rule always an array), `every` → `some` (each
// {KEY: value} rule has one key), and the `?? ''` fallback text.
function matchesRule(env: Env, rule: EnvRule): boolean {
  if (typeof rule === 'string') return !!env[rule];
  if ('env' in rule && 'includes' in rule) return (env[rule.env as string] ?? '').includes(rule.includes as string);
  if ('any' in rule && Array.isArray(rule.any)) return rule.any.some((k) => !!env[k]);
  return Object.entries(rule as Record<string, string>).every(([k, v]) => env[k] === v);
}

// Generic variables that mean "CI" without naming a vendor (as ci-info reads them).
const GENERIC_CI_VARS = ['BUILD_ID', 'BUILD_NUMBER', 'CI', 'CI_APP_ID', 'CI_BUILD_ID', 'CI_BUILD_NUMBER', 'CI_NAME', 'CONTINUOUS_INTEGRATION', 'RUN_ID'];

export function detectCI(env: Env): { ci: boolean; ciName: string } {
  // CI=false is ci-info's escape hatch: it turns every check off.
  if (env.CI === 'false') return { ci: false, ciName: 'none' };
  let vendor: Vendor | undefined;
  // Later rows win, as in ci-info (a few vendors are refinements of earlier ones).
  for (const row of vendors as Vendor[]) {
    const rules = Array.isArray(row.env) ? row.env : [row.env];
    if (rules.every((rule) => matchesRule(env, rule))) vendor = row;
  }
  const ci = !!vendor || GENERIC_CI_VARS.some((k) => !!env[k]);
  return { ci, ciName: vendor ? vendor.constant.toLowerCase().replace(/_/g, '-') : 'none' };
}

// ---- Containers: cheapest check first ----

export type Container = 'docker' | 'podman' | 'kubernetes' | 'none';

export const CONTAINER_RULES: ReadonlyArray<{ id: Container; test: (env: Env, probes: Probes) => boolean }> = [
  // Kubernetes first: a pod may also look like docker, and the env check costs nothing.
  { id: 'kubernetes', test: (env) => !!env.KUBERNETES_SERVICE_HOST },
  // Podman writes /run/.containerenv; check it before docker, since podman can also emulate /.dockerenv.
  { id: 'podman', test: (_env, p) => p.exists('/run/.containerenv') },
  { id: 'docker', test: (_env, p) => p.isDocker() },
];

export function detectContainer(env: Env, probes: Probes): Container {
  for (const rule of CONTAINER_RULES) if (rule.test(env, probes)) return rule.id;
  return 'none';
}

// ---- Package manager: npm_config_user_agent, e.g. "pnpm/10.34.9 npm/? node/v20.20.2 linux x64" ----

const KNOWN_PMS = ['npm', 'pnpm', 'yarn', 'bun', 'deno'];

// Equivalent mutants: the fallback texts and `/\s/` for `/\s+/` on the first
// line (only the first token is read, after trim), and any change to how a
// token without "/" gets its version on the fourth (that version would be the
// manager's name, never a version, so "unknown" either way).
export function detectPM(env: Env): { pm: string; pmVersion: string } {
  const first = (env.npm_config_user_agent ?? '').trim().split(/\s+/)[0] ?? '';
  const slash = first.indexOf('/');
  const name = slash === -1 ? first : first.slice(0, slash);
  if (!KNOWN_PMS.includes(name)) return { pm: 'unknown', pmVersion: 'unknown' };
  const version = slash === -1 ? '' : first.slice(slash + 1);
  return { pm: name, pmVersion: pmVersionOf(version) };
}

/**
 * A package manager's version as it may be sent: MAJOR.MINOR.PATCH with at
 * most a standard prerelease (-rc.1, -beta.2, -canary.3), anything after a
 * `+` (a build: +sha512...) dropped; anything else is "unknown". Every source is free
 * text (the user agent, a packageManager pin, a yarnPath file name), and a
 * pin such as "npm@11.19.1-my-secret-project.alice-laptop" must not leave the machine.
 */
// Equivalent mutant: the `?? ''` text (no digit first, so no match and 'unknown', whatever the fallback).
export function pmVersionOf(text: string | undefined): string {
  return /^(\d+\.\d+\.\d+(-(alpha|beta|rc|next|canary|pre|dev)(\.\d+)*)?)(\+|$)/.exec(text ?? '')?.[1] ?? 'unknown';
}

// Without a user agent (the runtime trigger runs outside any package manager),
// the tree's layout and lockfile tell which manager installed it; cheapest first.
export const TREE_PM_RULES: ReadonlyArray<{ pm: string; test: (pkgDir: string, root: string | undefined, probes: Probes) => boolean }> = [
  { pm: 'pnpm', test: (dir) => /[\\/]node_modules[\\/]\.pnpm[\\/]/.test(dir) },
  { pm: 'yarn', test: (dir) => /[\\/]\.yarn[\\/](?:cache|unplugged|__virtual__)[\\/]/.test(dir) },
  { pm: 'bun', test: (_d, root, p) => !!root && (p.exists(`${root}/bun.lock`) || p.exists(`${root}/bun.lockb`)) },
  // deno install keeps its own store in node_modules/.deno; Deno's own npm cache
  // (<DENO_DIR>/npm/<registry>/<name>/<version>) keeps <name>/registry.json beside the versions.
  { pm: 'deno', test: (dir, root, p) => p.exists(`${dir}/../registry.json`) || (!!root && p.exists(`${root}/node_modules/.deno`)) },
  { pm: 'yarn', test: (_d, root, p) => !!root && p.exists(`${root}/yarn.lock`) },
  { pm: 'pnpm', test: (_d, root, p) => !!root && p.exists(`${root}/pnpm-lock.yaml`) },
  { pm: 'npm', test: (_d, root, p) => !!root && (p.exists(`${root}/package-lock.json`) || p.exists(`${root}/node_modules/.package-lock.json`)) },
];

/** "pnpm@10.34.9+sha512.abc" → { pm: 'pnpm', version: '10.34.9' }; "npm@1.2.3-alice" → version 'unknown'. */
// Equivalent mutant: the `?? ''` text (no spec, no match, whatever the fallback).
function parsePmSpec(spec: string | undefined): { pm: string; version: string } | undefined {
  const m = /^(npm|pnpm|yarn|bun)@(\d.*)/.exec((spec ?? '').trim());
  return m ? { pm: m[1]!, version: pmVersionOf(m[2]) } : undefined;
}

// The package manager's version, where the tree records it (npm's and bun's
// trees do not: their lockfiles hold a format version, not the tool's). Most
// direct first: what the installing tool wrote, then what the project pins.
// Equivalent mutants: each `source` text (a label for readers; no code reads
// it); the `?? ''` fallbacks for a file that cannot be read (any text without
// the key matches nothing); in yarnPath, `['"]?` as `[^'"]?` (the `\S*` that
// follows takes the quote); and in the packageManager rule the typeof test set to true and an
// empty catch block (a non-string pin either throws in parsePmSpec's `.trim()`
// into the catch, which returns undefined as an empty block would, or, being
// null, matches nothing).
export const TREE_PM_VERSION_RULES: ReadonlyArray<{ source: string; read: (root: string, probes: Probes) => { pm: string; version: string } | undefined }> = [
  // pnpm records itself in node_modules/.modules.yaml on every install: pnpm 10 writes it as JSON
  // (`  "packageManager": "pnpm@10.34.9",`), older versions as plain YAML (`packageManager: pnpm@8.15.0`).
  { source: 'node_modules/.modules.yaml', read: (root, p) => parsePmSpec(/^\s*["']?packageManager["']?\s*:\s*["']?([^"'\s,]+)/m.exec(p.readText(`${root}/node_modules/.modules.yaml`) ?? '')?.[1]) },
  // yarn berry runs the release that .yarnrc.yml points at (yarnPath: .yarn/releases/yarn-4.18.1.cjs).
  { source: '.yarnrc.yml yarnPath', read: (root, p) => {
    const m = /^yarnPath:\s*['"]?\S*yarn-(\d[\w.+-]*?)\.c?js/m.exec(p.readText(`${root}/.yarnrc.yml`) ?? '');
    return m ? { pm: 'yarn', version: pmVersionOf(m[1]) } : undefined;
  } },
  // The project's "packageManager" field (corepack runs exactly that version).
  { source: 'package.json packageManager', read: (root, p) => {
    try {
      const pkg = parseJson(p.readText(`${root}/package.json`) ?? '') as { packageManager?: unknown };
      return typeof pkg.packageManager === 'string' ? parsePmSpec(pkg.packageManager) : undefined;
    } catch {
      return undefined; // no or malformed package.json: no version from here
    }
  } },
];

export function detectPMFromTree(pkgDir: string, root: string | undefined, probes: Probes): { pm: string; pmVersion: string } {
  const rule = TREE_PM_RULES.find((r) => r.test(pkgDir, root, probes));
  let pm = rule ? rule.pm : 'unknown';
  let pmVersion = 'unknown';
  if (root) {
    for (const source of TREE_PM_VERSION_RULES) {
      const found = source.read(root, probes);
      if (!found || (pm !== 'unknown' && found.pm !== pm)) continue;
      pm = found.pm;
      pmVersion = found.version;
      break;
    }
  }
  return { pm, pmVersion };
}

// ---- Global or local install: a table of signals, any of which means global ----

// Equivalent mutants: the typeof test, the `?.` and the catch body. A non-string
// first word never equals 'global', and a missing `original` throws into the
// catch, which returns undefined as an empty block would.
function yarnClassicArgv(env: Env): string | undefined {
  try {
    const parsed = JSON.parse(env.npm_config_argv ?? '') as { original?: unknown[] };
    return typeof parsed.original?.[0] === 'string' ? parsed.original[0] : undefined;
  } catch {
    return undefined; // not yarn 1, or a value we cannot read: no signal
  }
}

export const GLOBAL_RULES: ReadonlyArray<{ why: string; test: (env: Env, pkgDir: string) => boolean }> = [
  { why: 'npm -g (npm_config_global)', test: (env) => env.npm_config_global === 'true' },
  { why: 'npm --location=global', test: (env) => env.npm_config_location === 'global' },
  { why: 'yarn global add (npm_config_argv)', test: (env) => yarnClassicArgv(env) === 'global' },
  { why: "bun add -g (bun's global dir)", test: (_env, dir) => /[\\/]\.bun[\\/]install[\\/]global[\\/]/.test(dir) },
  { why: "pnpm add -g (pnpm's global dir)", test: (_env, dir) => /[\\/]pnpm[\\/]global[\\/]/.test(dir) },
  // pnpm 11+ builds global packages in its global virtual store (<PNPM_HOME>/store/v11/links/...),
  // so only INIT_CWD (<PNPM_HOME>/global/v11/<id>) still names the global dir.
  // (Equivalent mutant: any fallback text for a missing INIT_CWD that is not a path.)
  { why: "pnpm 11+ add -g (INIT_CWD in pnpm's global dir)", test: (env) => /[\\/]pnpm[\\/]global[\\/]/.test(env.INIT_CWD ?? '') },
  { why: "yarn global add (yarn's global dir)", test: (_env, dir) => /[\\/]yarn[\\/]global[\\/]node_modules[\\/]/.test(dir) },
];

export function detectInstall(env: Env, pkgDir: string): 'local' | 'global' {
  return GLOBAL_RULES.some((rule) => rule.test(env, pkgDir)) ? 'global' : 'local';
}

// ---- libc (Linux only): the C library the running Node uses (see libc.ts) ----

export function detectLibc(platform: string, probes: Probes, execPath?: string): 'glibc' | 'musl' | 'none' {
  return detectLibcFamily(platform, execPath, probes);
}
