// Where was this package installed, into which tree, for which project?
//
// One answer for the hook, reportInstall and explain, computed from the
// package's real path (plus, under Yarn PnP's global cache, the PnP runtime
// the process loaded). Nothing here touches the file system: the one fact a
// path cannot tell is asked of an injected probe.
//
// Layouts (`<P>` is the project, the folder whose package.json holds its opt-out):
// - npm, yarn 1, yarn node-modules, bun, hoisted or nested:  <P>/node_modules/[a/node_modules/]x
// - pnpm:                           <P>/node_modules/.pnpm/x@1.0.0/node_modules/x
// - global prefixes, npx:           <prefix>/lib/node_modules/x, ~/.npm/_npx/<id>/node_modules/x
//   (the prefix is the "project": it has no package.json, hence no project opt-out)
// - yarn PnP, project cache:        <P>/.yarn/cache/x-npm-1.0.0-<hash>.zip/node_modules/x
//   unplugged, virtual:             <P>/.yarn/unplugged/..., <P>/.yarn/__virtual__/...
// - yarn PnP, global cache (yarn 4's default): ~/.yarn/berry/cache/x-npm-1.0.0-<hash>.zip/node_modules/x
//   The path names no project: the .pnp.cjs that serves it does (its folder is the project).
// - Deno's own npm cache (`npm:` specifiers without node_modules): <DENO_DIR>/npm/<registry>/x/1.0.0
//   (scoped: <registry>/@s/x/1.0.0). Only where the probe says this process is Deno: the
//   shape alone is too common a path to count as an install. The registry folder is the
//   tree and the "project" (no package.json, hence no project opt-out), as a global prefix is.
// The tree root is everything before the FIRST node_modules (or .yarn) segment,
// so every copy in one install, however deeply nested, has one tree and one
// marker folder. An npm/yarn workspace member's dependencies are hoisted into
// the workspace root's node_modules, so their project is the workspace root;
// copies that could not be hoisted stay in the member's own node_modules, and
// decide() also honours the opt-out of an enclosing workspace root for them.

export type LayoutKind = 'node_modules' | 'pnpm' | 'yarn-pnp' | 'yarn-global-cache' | 'deno-npm-cache';

export interface InstallSite {
  kind: LayoutKind;
  /** The package folder. */
  pkgDir: string;
  /** The folder holding the node_modules (or .yarn) the package was installed into. */
  treeRoot: string;
  /** The project installed into: its package.json holds the project opt-out. */
  projectRoot: string;
  /** Where this tree's install markers live (see marker.ts). */
  markerDir: string;
  /** Yarn PnP: the runtime a child process must load to read the package (and install-beacon). */
  pnpFile?: string;
}

export interface LayoutProbes {
  /** The .pnp.cjs of the Yarn PnP runtime loaded in this process that serves `path`, if any. */
  pnpFileFor?(path: string): string | undefined;
  /** True when this process is Deno, whose npm cache holds packages outside any node_modules. */
  isDeno?(): boolean;
}

/** Also parsed JSON, or undefined (a project's node_modules/.modules.yaml, which pnpm 10 and 12 write as JSON). */
type SiteProbes = LayoutProbes & { readJson?(path: string): unknown };

// pnpm's virtual store outside the project's node_modules: `virtualStoreDir`
// (<vs>/x@1.0.0/node_modules/x) or the global virtual store
// (<store>/links/@/x/1.0.0/<hash>/node_modules/x, scoped: links/@s/x/...). The
// folder names no project: the project that links it owns it (see installSite).
const GVS = /[\\/]links[\\/]@/;

const DENO_CACHE = /^(.*?[\\/]npm[\\/][^\\/]+)[\\/]((?:@[^\\/]+[\\/])?[^\\/@.][^\\/]*)[\\/](\d+\.\d+\.\d+[^\\/]*)(?:[\\/]|$)/;

/** Under Deno, the package folder of a file in Deno's npm cache (<DENO_DIR>/npm/<registry>/<name>/<version>), else undefined. */
export function denoCacheDirOf(file: string, probes: LayoutProbes = {}): string | undefined {
  if (/[\\/]node_modules(?:[\\/]|$)/.test(file) || !probes.isDeno?.()) return undefined;
  const m = DENO_CACHE.exec(file);
  return m ? `${m[1]}/${m[2]}/${m[3]}` : undefined;
}

const SEP = /[\\/]/;

/** The folder above `file`'s last path segment. */
export function parentOf(file: string): string {
  // Unreachable guard: `|| '/'` only answers for a name without any separator;
  // every caller passes an absolute path, so its mutants cannot change a result.
  const i = Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\'));
  return i <= 0 ? file.slice(0, i + 1) || '/' : file.slice(0, i);
}

/** The package folder for a file or folder inside an installed package: the path up to `node_modules/<name>` or `node_modules/@scope/<name>` (yarn's `nodeLinker: pnpm`: `node_modules/.store/<x>/package`). */
export function packageDirOf(file: string): string | undefined {
  // Equivalent mutant (here and in every `^(.*?)...` pattern below): dropping
  // the `^`. A match can always start at position 0 (the leading `.*` absorbs
  // any prefix), and exec returns the leftmost match, so it is the same match.
  const m = /^(.*[\\/]node_modules[\\/](?:\.store[\\/][^\\/]+[\\/]package|(?:@[^\\/]+[\\/])?[^\\/]+))(?:[\\/]|$)/.exec(file);
  return m ? m[1] : undefined;
}

/**
 * Where the package in `pkgDir` was installed; undefined outside an installed
 * tree, or under a PnP cache no loaded runtime serves or a shared pnpm store
 * no project is found for. `init`: the INIT_CWD pnpm gives its scripts;
 * `cwd`: the program's folder (run time).
 */
export function installSite(pkgDir: string, probes: SiteProbes = {}, init?: string, cwd?: string): InstallSite | undefined {
  // Yarn PnP inside the project: unplugged folders, the project's own cache, virtual paths.
  const yarn = /^(.*?)[\\/]\.yarn[\\/](?:unplugged|cache|__virtual__)[\\/]/.exec(pkgDir);
  if (yarn) {
    const root = yarn[1] || '/';
    return { kind: 'yarn-pnp', pkgDir, treeRoot: root, projectRoot: root, markerDir: `${yarn[1]}/.yarn/.install-beacon`, pnpFile: probes.pnpFileFor?.(pkgDir) ?? `${yarn[1]}/.pnp.cjs` };
  }
  // A zip outside any project (yarn's global cache, or a custom cacheFolder): only the PnP runtime knows the project.
  if (/\.zip[\\/]node_modules[\\/]/.test(pkgDir)) {
    const pnpFile = probes.pnpFileFor?.(pkgDir);
    if (!pnpFile) return undefined;
    const root = parentOf(pnpFile);
    return { kind: 'yarn-global-cache', pkgDir, treeRoot: root, projectRoot: root, markerDir: `${root.replace(/[\\/]$/, '')}/.yarn/.install-beacon`, pnpFile };
  }
  if (denoCacheDirOf(pkgDir, probes) === pkgDir.replace(/[\\/]+$/, '')) {
    const root = DENO_CACHE.exec(pkgDir)![1]!;
    return { kind: 'deno-npm-cache', pkgDir, treeRoot: root, projectRoot: root, markerDir: `${root}/.install-beacon` };
  }
  const nm = /^(.*?)[\\/]node_modules(?:[\\/]|$)/.exec(pkgDir);
  if (!nm) return undefined;
  let root = nm[1]!;
  let kind: LayoutKind = /[\\/]node_modules[\\/]\.pnpm[\\/]/.test(pkgDir) ? 'pnpm' : 'node_modules';
  if (GVS.test(root) || /[^\\/]@[^\\/]*$/.test(root)) {
    // Its owner: under pnpm, INIT_CWD (pnpm writes node_modules/.modules.yaml
    // only after an install's builds); else the nearest folder above the package or the
    // cwd whose node_modules/.modules.yaml names a virtualStoreDir holding it.
    // The marker goes into the owner's node_modules, not the store: each project
    // linking it counts once. A global store entry with no owner is in no tree.
    const owner = init || [pkgDir, cwd ?? '/'].flatMap((d) => [d, ...ancestors(d)]).find((d) => {
      const vs = (probes.readJson?.(`${d}/node_modules/.modules.yaml`) as { virtualStoreDir?: unknown } | undefined)?.virtualStoreDir;
      return typeof vs === 'string' && `${pkgDir}/`.startsWith(`${(require('path') as typeof import('path')).resolve(d, 'node_modules', vs)}/`);
    });
    if (owner) (root = owner), (kind = 'pnpm');
    else if (GVS.test(root)) return undefined;
  }
  return { kind, pkgDir, treeRoot: root || '/', projectRoot: root || '/', markerDir: `${root}/node_modules/.install-beacon` };
}

/** The ancestors of `dir`, nearest first (not `dir` itself). */
export function ancestors(dir: string): string[] {
  const out: string[] = [];
  // Equivalent mutant: replacing the trailing separators with any other text
  // instead of nothing. That only lengthens the last segment, which is dropped.
  let current = dir.replace(/[\\/]+$/, '');
  while (SEP.test(current)) {
    const up = parentOf(current);
    if (up === current) break;
    out.push(up);
    // Equivalent mutants (every one on the next line): the loop ends at a root
    // without it. parentOf('/') is '/' (the check above breaks), and a drive
    // (`C:`; parentOf never returns `C:\`) has no separator left for the loop.
    if (up === '/' || /^[A-Za-z]:[\\/]?$/.test(up)) break;
    current = up;
  }
  return out;
}

/** The workspace patterns a package.json declares (npm, yarn, bun): an array, or yarn 1's {packages: [...]}. */
export function workspacePatterns(pkg: unknown): string[] {
  if (typeof pkg !== 'object' || pkg === null) return [];
  const ws = (pkg as { workspaces?: unknown }).workspaces;
  const list = Array.isArray(ws) ? ws : typeof ws === 'object' && ws !== null ? (ws as { packages?: unknown }).packages : undefined;
  return Array.isArray(list) ? list.filter((p): p is string => typeof p === 'string') : [];
}

/** pnpm-workspace.yaml's `packages:` list, `!` exclusions included (the plain YAML pnpm writes: `  - 'packages/*'`). */
export function pnpmWorkspacePatterns(yaml: string | undefined): string[] {
  const m = /^packages:\s*\n((?:[ \t]*(?:-.*|#.*)?\n?)+)/m.exec(yaml ?? '');
  return m ? [...m[1]!.matchAll(/^[ \t]*-[ \t]*['"]?([^'"#\n]+?)['"]?[ \t]*(?:#.*)?$/gm)].map((x) => x[1]!) : [];
}

const lit = (c: string): string => (/\w/.test(c) ? c : `\\${c}`);
// A wildcard never matches a segment's leading dot (dot: false, every manager's default).
const NO_DOT = '(?!(?<![^/])\\.)';

/**
 * A workspace glob as a RegExp over `<relative path>/`, in the syntax npm
 * (minimatch), pnpm (tinyglobby), yarn and bun accept: `*`, `?`, `[a-z]`,
 * `[!a]`, `**` (any number of folders), `{a,b}`, `@(a|b)`, `?(a)`, `+(a)`,
 * `*(a)`, `!(a|b)` (as a segment's end), `\` escapes. Not handled: numeric
 * ranges `{1..3}` and POSIX classes `[[:alpha:]]` (they match nothing).
 */
export function globRegExp(glob: string): RegExp {
  const g = `${glob.replace(/^\.?\/+|\/+$/g, '')}/`;
  const close: string[] = [];
  let re = '^';
  for (let i = 0; i < g.length; i++) {
    const c = g[i]!;
    const rest = g.slice(i);
    const ext = /^([?*+@!])\(/.exec(rest)?.[1];
    const cls = /^\[(.[^\]]*)\]/.exec(rest);
    if (c === '\\') re += lit(g[++i]!);
    else if (/^\*\*\//.test(rest) && /(^|\/)$/.test(g.slice(0, i))) (re += `(?:${NO_DOT}[^/]*/)*`), (i += 2);
    else if (ext) {
      re += ext === '!' ? `(?:${NO_DOT}(?!(?:` : '(?:';
      close.push(ext === '!' ? ')/)[^/]*)' : ext === '@' ? ')' : `)${ext}`);
      i++;
    } else if (cls) (re += `${NO_DOT}(?!/)[${cls[1]!.replace(/^!/, '^').replace(/\\?([\\\]])/g, '\\$1')}]`), (i += cls[0].length - 1);
    else if (c === '*') re += /\*$/.test(g.slice(0, i)) ? '' : `${NO_DOT}[^/]*`;
    else if (c === '?') re += `${NO_DOT}[^/]`;
    else if (c === '{' && !/^\{[^,{}]*\}/.test(rest)) re += '(?:', close.push('}');
    else if (c === '}' && close.at(-1) === '}') re += ')', close.pop();
    else if (c === ',' && close.at(-1) === '}') re += '|';
    else if (c === '|' && close.length) re += '|';
    else if (c === ')' && close.length && close.at(-1) !== '}') re += close.pop();
    else re += lit(c);
  }
  try {
    return new RegExp(`${re}$`);
  } catch {
    return /$^/; // unbalanced: matches nothing
  }
}

/**
 * Is `rel` (a folder relative to the root, with `/`) one of the workspaces the
 * patterns declare? The last pattern that matches decides: a plain one makes it
 * a member, a `!` one (an odd number of `!`) excludes it, as npm orders them;
 * pnpm and bun exclude whatever any `!` pattern matches, so in the one case
 * where they differ (a later pattern adding back what a `!` removed) this
 * counts a member, and the workspace root's opt-out holds.
 */
export function isWorkspace(rel: string, patterns: string[]): boolean {
  let member = false;
  for (const p of patterns) {
    const neg = /^!*/.exec(p)![0].length;
    if (globRegExp(p.slice(neg)).test(`${rel}/`)) member = neg % 2 === 0;
  }
  return member;
}

/** Does the relative path `rel` (with `/`) match a workspace glob? */
export function matchesWorkspace(rel: string, pattern: string): boolean {
  return isWorkspace(rel, [pattern]);
}

/**
 * The nearest folder above `dir` that declares `dir` one of its workspaces: in
 * its package.json (npm, yarn, bun) or, given `readText`, its
 * pnpm-workspace.yaml (pnpm; a member with its own lockfile or its own
 * unhoisted copies has its own node_modules, and the root's opt-out covers it).
 */
export function enclosingWorkspaceRoot(dir: string, readJson: (path: string) => unknown, readText?: (path: string) => string | undefined): string | undefined {
  const norm = dir.replace(/\\/g, '/').replace(/\/+$/, '');
  for (const up of ancestors(dir)) {
    const base = up.replace(/[\\/]$/, '');
    const patterns = [...workspacePatterns(readJson(`${base}/package.json`)), ...pnpmWorkspacePatterns(readText?.(`${base}/pnpm-workspace.yaml`))];
    // Equivalent mutants: the `continue` (no pattern matches anything anyway;
    // this only skips the work), and `\/+$` as `\/$` below (an ancestor never
    // ends in a separator, except the root '/', which has one).
    if (patterns.length === 0) continue;
    const upNorm = up.replace(/\\/g, '/').replace(/\/+$/, '');
    if (isWorkspace(norm.slice(upNorm.length + 1), patterns)) return up;
  }
  return undefined;
}

/**
 * The project an install started in `cwd` installs into, as npm finds it: the
 * nearest folder (cwd or above) with a package.json or node_modules, or the
 * workspace root that lists it as a member. Inside node_modules, the tree it
 * belongs to. For `explain`, so that it describes what an install started here
 * would do, as the hook will see it.
 */
export function installTarget(cwd: string, probes: { exists(path: string): boolean; readJson(path: string): unknown }): string {
  const inTree = /^(.*?)[\\/]node_modules(?:[\\/]|$)/.exec(cwd);
  if (inTree) return inTree[1] || '/';
  let found = cwd;
  for (const dir of [cwd, ...ancestors(cwd)]) {
    const base = dir.replace(/[\\/]$/, '');
    if (probes.exists(`${base}/package.json`) || probes.exists(`${base}/node_modules`)) {
      found = dir;
      break;
    }
  }
  return enclosingWorkspaceRoot(found, probes.readJson) ?? found;
}
