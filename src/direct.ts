import { isObject } from './config.js';
import { ancestors, isWorkspace, pnpmWorkspacePatterns, workspacePatterns, type InstallSite } from './layout.js';

// {direct}: did the installing project ask for this package (true), or was it
// pulled in by another package (false)? Homebrew's "installed on request". One
// boolean, computed from the tree on this machine; nothing about the project
// (its name, its other dependencies, its path) leaves it.
//
// The project is layout.ts's projectRoot: the project the package was
// installed into. "Asked for" means:
// 1. The project (or, in a workspace, the root or any member) lists the name in
//    dependencies, devDependencies, optionalDependencies or peerDependencies
//    (or a deno.json import), AND that name resolves from there to this very
//    copy. A project listing acme-lib@1 does not make the acme-lib@2 a
//    dependency nests (npm) or keeps in the store (pnpm, bun, deno) a request.
// 2. Not listed: `npm install x`, `pnpm add x`, `bun add x` run x's install
//    scripts BEFORE they write x into package.json (checked with npm 11: the
//    project's package.json has no "dependencies" while x's postinstall runs;
//    `deno add npm:x` writes it first, checked with deno 2.9.6).
//    So in a postinstall an unlisted copy is a request exactly when no other
//    installed package depends on it: a copy nested under another package, or
//    one another package's store folder links to, or a top-level one another
//    top-level package installs (not devDependencies) and resolves to this copy,
//    was pulled in. After the install (reportInstall)
//    and in `npm ci`, package.json is complete: unlisted is pulled in.
// 3. Yarn PnP: the PnP runtime (loaded in every process yarn starts) knows
//    every workspace's resolved dependencies, including ones `yarn add` has not
//    yet written to package.json: a request iff a workspace depends on this
//    package's exact locator.
// 4. Deno's own npm cache (`deno run` without node_modules) is shared by every
//    program on the machine: the project is the program Deno runs (its main
//    module). Deno writes a deno.lock beside the config file it finds at or
//    above the main module; its "specifiers" are what the project asked for
//    (deno.json imports, package.json dependencies, and the `npm:` specifiers
//    its code imports): a request iff one of them resolves to this name and
//    version. No lockfile (no config file, so Deno writes none): a request iff
//    the main module itself imports `npm:<name>` (how `deno run script.ts`
//    asks for a package). `deno run npm:x` runs x's bin from the cache: x is
//    a request (as with npx), its dependencies are not. A main module that
//    is no local file: "unknown".
// A global install's packages are requests when they sit at the top of the
// global tree (npm -g has no package.json there; pnpm, yarn 1 and bun keep one
// that lists them); a global package's own dependencies are not.
// "unknown": the package is in no tree this can read, or the project's
// package.json cannot be read.

export type Direct = 'true' | 'false' | 'unknown';

/** The subset of Yarn's PnP API (https://yarnpkg.com/advanced/pnpapi) this uses. */
export interface PnpApi {
  findPackageLocator(path: string): { name: string; reference: string } | null;
  getDependencyTreeRoots(): Array<{ name: string; reference: string }>;
  getPackageInformation(locator: { name: string; reference: string }): { packageDependencies: Map<string, string | [string, string] | null> } | null;
}

export interface DirectProbes {
  exists(path: string): boolean;
  readText(path: string): string | undefined;
  readJson(path: string): unknown;
  listDir(path: string): string[];
  /** The real path, or undefined when it does not exist (never throws). */
  realpath(path: string): string | undefined;
  /** The PnP API serving `path` in this process, if one is loaded. */
  pnpApiFor?(path: string): PnpApi | undefined;
  /** Under Deno: the path of the program it runs (Deno.mainModule), when that is a local file. */
  denoMainModule?(): string | undefined;
}

export const DEP_FIELDS = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'] as const;
const RUNTIME_FIELDS = ['dependencies', 'optionalDependencies', 'peerDependencies'];
const join = (dir: string, rel: string): string => `${dir.replace(/[\\/]$/, '')}/${rel}`;

/** The name a package was installed under: the path after its last node_modules (`x` or `@scope/x`). */
export function installedName(pkgDir: string): string | undefined {
  return /[\\/]node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)[\\/]?$/.exec(pkgDir)?.[1]?.replace(/\\/g, '/');
}

/** The names under which a package.json (or deno.json) asks for `pkgName`: its own name, and aliases (`"b": "npm:acme-lib@2"`). */
export function namesAskingFor(manifest: unknown, pkgName: string | undefined, installed: string, fields: readonly string[] = DEP_FIELDS): string[] {
  const names = new Set<string>();
  if (!isObject(manifest)) return [];
  const aliasOf = (spec: unknown) => typeof spec === 'string' && pkgName !== undefined && (spec === `npm:${pkgName}` || spec.startsWith(`npm:${pkgName}@`));
  for (const field of fields) {
    const deps = manifest[field];
    if (!isObject(deps)) continue;
    for (const [name, spec] of Object.entries(deps)) if (name === installed || name === pkgName || aliasOf(spec)) names.add(name);
  }
  // deno.json: "imports": {"acme-lib": "npm:acme-lib@^2"}
  if (isObject(manifest.imports)) for (const [name, spec] of Object.entries(manifest.imports)) if (aliasOf(spec) || (name === installed && typeof spec === 'string' && spec.startsWith('npm:'))) names.add(name);
  return [...names];
}

/** The workspace member folders under `root` (npm, yarn, bun: package.json "workspaces"; pnpm: pnpm-workspace.yaml). */
export function workspaceMembers(root: string, rootManifest: unknown, probes: DirectProbes): string[] {
  const patterns = [...workspacePatterns(rootManifest), ...pnpmWorkspacePatterns(probes.readText(join(root, 'pnpm-workspace.yaml')))];
  if (patterns.length === 0) return [];
  const found = new Set<string>();
  // Walk the folders a pattern can match: `*` one level, `**` up to 4 levels; never into node_modules or dot folders.
  const walk = (dir: string, rel: string, depth: number) => {
    if (rel && probes.exists(join(dir, 'package.json')) && isWorkspace(rel, patterns)) found.add(dir);
    if (depth >= 4) return;
    for (const name of probes.listDir(dir)) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      const sub = rel ? `${rel}/${name}` : name;
      // Only descend where some pattern can still match below.
      if (patterns.some((p) => couldContain(p, sub))) walk(join(dir, name), sub, depth + 1);
    }
  };
  walk(root.replace(/[\\/]$/, ''), '', 0);
  return [...found];
}

/**
 * Can a folder matching `pattern` lie at or below `rel`? Conservative (it may
 * say yes in vain, never no in vain): below the pattern's literal folders, as
 * deep as its segments reach (any depth with `**`).
 */
function couldContain(pattern: string, rel: string): boolean {
  const p = pattern.replace(/^!+|^\.?\/+/g, '');
  const head = p.split(/[*?[{\\]|[@!+]\(/)[0]!;
  const literal = head.slice(0, head.lastIndexOf('/') + 1);
  const sub = `${rel}/`;
  return sub.startsWith(literal) ? p.includes('**') || rel.split('/').length <= p.split('/').length : literal.startsWith(sub);
}

/** The copy `name` resolves to from `dir`, as Node looks it up: dir/node_modules/name, then each folder above, up to `top`. */
function resolveFrom(dir: string, name: string, top: string, probes: DirectProbes): string | undefined {
  for (const d of [dir, ...ancestors(dir)]) {
    const hit = probes.realpath(join(d, `node_modules/${name}`));
    if (hit) return hit;
    if (d.replace(/[\\/]$/, '') === top.replace(/[\\/]$/, '')) break;
  }
  return undefined;
}

// Store layouts: pnpm (.pnpm), bun's isolated linker (.bun), deno (.deno).
const STORE = /^(.*?[\\/]node_modules[\\/]\.(?:pnpm|bun|deno))[\\/]([^\\/]+)[\\/]node_modules[\\/]/;

/** Does another installed package depend on this copy? (Only asked for copies no project lists.) */
function hasDependent(site: InstallSite, name: string, real: string, probes: DirectProbes): boolean {
  const store = STORE.exec(site.pkgDir);
  if (store) {
    // A store folder links each dependency beside its package: .pnpm/<dependent>/node_modules/<name> → this copy.
    const [, storeDir, own] = store;
    return probes.listDir(storeDir!).some((entry) => entry !== own && probes.realpath(join(storeDir!, `${entry}/node_modules/${name}`)) === real);
  }
  const rest = site.pkgDir.slice(site.treeRoot.replace(/[\\/]$/, '').length);
  // Nested under another package (<root>/node_modules/a/node_modules/x): a's dependency.
  if ((rest.match(/[\\/]node_modules[\\/]/g) ?? []).length > 1) return true;
  // Hoisted to the top: does another top-level package install it (devDependencies are not, for a
  // dependency) and resolve it, from its real folder, to this very copy (not one nested under it)?
  const top = join(site.treeRoot, 'node_modules');
  const dirs = probes.listDir(top).flatMap((entry) => (entry.startsWith('@') ? probes.listDir(join(top, entry)).map((n) => `${entry}/${n}`) : entry.startsWith('.') ? [] : [entry]));
  return dirs.some((dep) => {
    const from = dep !== name && namesAskingFor(probes.readJson(join(top, `${dep}/package.json`)), name, name, RUNTIME_FIELDS)[0] && probes.realpath(join(top, dep));
    return !!from && resolveFrom(from, name, site.treeRoot, probes) === real;
  });
}

/** Yarn PnP: does a workspace depend on this package's locator? */
function pnpDirect(api: PnpApi, pkgDir: string): Direct {
  const locator = api.findPackageLocator(`${pkgDir.replace(/[\\/]$/, '')}/`);
  if (!locator) return 'unknown';
  // A package with peer dependencies has a virtual reference per dependent ("virtual:<hash>#npm:2.3.4").
  const plain = (ref: string) => ref.replace(/^virtual:[^#]*#/, '');
  for (const root of api.getDependencyTreeRoots()) {
    const deps = api.getPackageInformation(root)?.packageDependencies;
    if (!deps) continue;
    for (const [depName, ref] of deps) {
      const [name, reference] = Array.isArray(ref) ? ref : [depName, ref];
      if (reference && name === locator.name && plain(reference) === plain(locator.reference)) return 'true';
    }
  }
  return 'false';
}

/** Deno's npm cache (<DENO_DIR>/npm/<registry>/<name>/<version>): rule 4 above. */
function denoCacheDirect(pkgDir: string, name: string, probes: DirectProbes): Direct {
  const main = probes.denoMainModule?.();
  if (!main) return 'unknown';
  // `deno run npm:x`: the main module is x's bin, in the cache (its dependencies: no lockfile, and the bin names no `npm:` specifier).
  if (main.startsWith(`${pkgDir}/`)) return 'true';
  // <version>, or <version>_1 for a second copy of it (peer dependencies).
  const version = pkgDir.replace(/.*[\\/]|_.*/g, '');
  for (const dir of ancestors(main)) {
    // "specifiers": {"npm:acme-lib@^2": "2.3.4", "npm:@s/x@1": "1.0.0_peer@2.0.0", "jsr:...": ...}
    const specs = (probes.readJson(join(dir, 'deno.lock')) as { specifiers?: unknown } | undefined)?.specifiers;
    if (isObject(specs)) return Object.entries(specs).some(([spec, v]) => spec.replace(/^npm:(@?[^@]+).*/, '$1') === name && String(v).replace(/_.*/, '') === version) ? 'true' : 'false';
  }
  const source = probes.readText(main);
  return source === undefined ? 'unknown' : new RegExp(`npm:${name.replace(/\W/g, '\\$&')}(?![\\w.-])`).test(source) ? 'true' : 'false';
}

/**
 * `unsaved`: package.json may not list this install's new packages yet (the
 * postinstall of a command that can add some; not `npm ci` or a rebuild, and
 * never a program run after the install). Only then is an unlisted top-level
 * copy looked up among the other packages (a read of each top-level
 * package.json); otherwise unlisted means pulled in.
 */
export function detectDirect(site: InstallSite | undefined, pkgName: string | undefined, global: boolean, probes: DirectProbes, unsaved = true, globalDir?: string): Direct {
  if (!site) return 'unknown';
  const name = installedName(site.pkgDir) ?? pkgName;
  if (!name) return 'unknown';
  // pnpm 11+ builds global packages in its global virtual store (<PNPM_HOME>/store/v11/links/...), whose
  // path names no project; the global dir the install runs in (INIT_CWD) links exactly what was asked for.
  if (globalDir && !site.pkgDir.startsWith(globalDir)) {
    const real = probes.realpath(site.pkgDir) ?? site.pkgDir;
    const names = [name, ...namesAskingFor(probes.readJson(join(globalDir, 'package.json')), pkgName, name)];
    return names.some((n) => probes.realpath(join(globalDir, `node_modules/${n}`)) === real) ? 'true' : 'false';
  }
  if (site.kind === 'deno-npm-cache') return denoCacheDirect(site.pkgDir, name, probes);
  if (site.kind === 'yarn-pnp' || site.kind === 'yarn-global-cache') {
    const api = probes.pnpApiFor?.(site.pkgDir);
    if (api) return pnpDirect(api, site.pkgDir);
    // No PnP runtime in this process (it could not have loaded the package then): the manifest alone.
    const manifest = probes.readJson(join(site.projectRoot, 'package.json'));
    if (!isObject(manifest)) return 'unknown';
    const members = [manifest, ...workspaceMembers(site.projectRoot, manifest, probes).map((m) => probes.readJson(join(m, 'package.json')))];
    return members.some((m) => namesAskingFor(m, pkgName, name).length > 0) ? 'true' : 'false';
  }
  const real = probes.realpath(site.pkgDir) ?? site.pkgDir;
  const rootManifest = probes.readJson(join(site.projectRoot, 'package.json'));
  if (!isObject(rootManifest) && !global) return 'unknown';
  const projects = [site.projectRoot, ...(isObject(rootManifest) ? workspaceMembers(site.projectRoot, rootManifest, probes) : [])];
  let listed = false;
  for (const project of projects) {
    const manifest = project === site.projectRoot ? rootManifest : probes.readJson(join(project, 'package.json'));
    const names = [...namesAskingFor(manifest, pkgName, name), ...namesAskingFor(project === site.projectRoot ? probes.readJson(join(project, 'deno.json')) : undefined, pkgName, name)];
    for (const asked of names) {
      listed = true;
      if (resolveFrom(project, asked, site.treeRoot, probes) === real) return 'true';
    }
  }
  // Listed, but that name resolves to another copy: this one is another package's.
  if (listed || (!unsaved && !global)) return 'false';
  return hasDependent(site, name, real, probes) ? 'false' : 'true';
}
