import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Project } from './managers.js';

// The layout table: each package manager × its layout settings × the events of an
// install's life, with the count each cell must give and what the project's
// opt-out gives. Data only: test/matrix/main.ts (layoutCases) runs it and writes
// the table into docs/compatibility.md. A cell the run cannot measure says why
// here (`skip`), so the table shows it as not measured instead of guessing.

/** The events of one project's life, run in this order in one project (the counts are those of each step alone). */
export const LAYOUT_EVENTS = [
  'install',
  'rebuild',
  'dedupe',
  'update',
  'remove+add',
  'ci',
  'image layer',
  'copy',
  'other user',
] as const;
export type LayoutEvent = (typeof LAYOUT_EVENTS)[number];

/** What each event is, for the table's legend, and the events it must give (before any layout's documented limit). */
export const EVENT_RULES: Record<LayoutEvent, { what: string; events: number; optOut: boolean }> = {
  install: { what: 'add acme-lib 2.3.4 (scripts allowed as the README tells users), then run a program that loads it', events: 1, optOut: true },
  rebuild: { what: "the manager's rebuild of the same tree, then the program", events: 0, optOut: false },
  dedupe: { what: "the manager's dedupe, then the program", events: 0, optOut: false },
  update: { what: 'add acme-lib 2.3.5 (a new version: a new install), then the program', events: 1, optOut: true },
  'remove+add': { what: 'remove acme-lib, add the same 2.3.5 again (a reinstall), then the program', events: 1, optOut: true },
  ci: { what: "the project's manifest, lockfile and settings in a fresh checkout with a fresh HOME, its frozen install (`npm ci`, `--frozen-lockfile`, `--immutable`, `deno install --frozen`), then the program", events: 1, optOut: true },
  'image layer': { what: 'the installed project as the lower layer of three overlay mounts over its own path, each with a fresh upper layer (three containers of one image), the program run in each', events: 0, optOut: false },
  copy: { what: 'the project copied with `cp -a`, the program run in the copy', events: 0, optOut: false },
  'other user': { what: 'the program run by another user (uid 65534, its own HOME) in the tree, read-only to it: exit 0, silent', events: 0, optOut: false },
};

export interface Layout {
  id: string;
  /** The MANAGERS id whose tool, configuration and allow step it starts from. */
  manager: string;
  label: string;
  /** Layout settings, written after the manager's own configuration. */
  setup?(p: Project): void;
  /** A workspace member (relative to the project) where installs start and the program runs. */
  member?: string;
  /** Cells where the documented behaviour differs from the event's rule, with the document that says so. */
  expect?: Partial<Record<LayoutEvent, { events: number; why: string }>>;
  /** Cells this run does not measure in this layout (an event, or its opted-out run), and why. */
  skip?: Partial<Record<LayoutEvent | `${LayoutEvent} opt-out`, string>>;
}

/** Per manager: the verbs the life needs beyond Manager's own (add, rebuild). */
export interface Verbs {
  remove(pkg: string): string[];
  frozen: string[];
  dedupe?: string[];
  /** Lockfiles and settings a checkout carries (copied into the fresh checkout for `ci`). */
  files: string[];
}

const NPM_FILES = ['package.json', 'package-lock.json', '.npmrc'];
export const VERBS: Record<string, Verbs> = {
  npm: { remove: (n) => ['uninstall', n, '--loglevel=error'], frozen: ['ci', '--loglevel=error'], dedupe: ['dedupe', '--loglevel=error'], files: NPM_FILES },
  pnpm: {
    remove: (n) => ['remove', n, '--reporter=append-only'],
    frozen: ['install', '--frozen-lockfile', '--reporter=append-only'],
    dedupe: ['dedupe', '--reporter=append-only'],
    files: ['package.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', '.npmrc'],
  },
  yarn1: { remove: (n) => ['remove', n, '--non-interactive', '--no-progress'], frozen: ['install', '--frozen-lockfile', '--non-interactive', '--no-progress'], files: ['package.json', 'yarn.lock', '.npmrc'] },
  berry: { remove: (n) => ['remove', n], frozen: ['install', '--immutable'], dedupe: ['dedupe'], files: ['package.json', 'yarn.lock', '.yarnrc.yml'] },
  bun: { remove: (n) => ['remove', n], frozen: ['install', '--frozen-lockfile'], files: ['package.json', 'bun.lock', 'bunfig.toml', '.npmrc'] },
  deno: { remove: (n) => ['remove', `npm:${n}`], frozen: ['install', '--frozen', '--minimum-dependency-age=0'], files: ['package.json', 'deno.lock', '.npmrc'] },
};

export const verbsFor = (managerId: string): Verbs =>
  VERBS[managerId.startsWith('npm') ? 'npm' : managerId.startsWith('pnpm') ? 'pnpm' : managerId.startsWith('berry') ? 'berry' : managerId]!;

const append = (file: string, text: string) => {
  let was = '';
  try {
    was = readFileSync(file, 'utf8');
  } catch {
    // No such file yet: the layout's settings are all of it.
  }
  writeFileSync(file, `${was}${was && !was.endsWith('\n') ? '\n' : ''}${text}`);
};
const npmrc = (line: string) => (p: Project) => append(join(p.app, '.npmrc'), `${line}\n`);
/** Replace (or add) one `key: value` line of the project's .yarnrc.yml. */
const yarnrc = (settings: Record<string, string>) => (p: Project) => {
  const file = join(p.app, '.yarnrc.yml');
  let text = readFileSync(file, 'utf8');
  for (const [k, v] of Object.entries(settings)) {
    const line = `${k}: ${v}`;
    text = new RegExp(`^${k}:.*$`, 'm').test(text) ? text.replace(new RegExp(`^${k}:.*$`, 'm'), line) : `${text}${line}\n`;
  }
  writeFileSync(file, text);
};
const bunLinker = (linker: string) => (p: Project) => {
  const file = join(p.app, 'bunfig.toml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('[install]\n', `[install]\nlinker = "${linker}"\n`));
};
/** A workspace: the root lists its members (`globs`, written as the manager reads them) and `packages/app` is the member that installs. */
const workspace = (write: (p: Project) => void) => (p: Project) => {
  for (const m of ['app', 'lib']) {
    mkdirSync(join(p.app, 'packages', m), { recursive: true });
    writeFileSync(join(p.app, 'packages', m, 'package.json'), JSON.stringify({ name: m, version: '1.0.0', private: true }, null, 2));
  }
  write(p);
};

const PNPM10_RELINK = { events: 0, why: 'pnpm links the very same store folder again: nothing of the package changes (docs/markers.md)' };
const PNPM_GVS = { events: 0, why: 'pnpm links the very same folder of its global virtual store again: nothing of the package changes (docs/markers.md)' };
const BUN_RELINK = { events: 0, why: "bun's remove keeps the package's folder in node_modules/.bun and its add links it again: nothing of the package changes (docs/markers.md)" };
const NO_REBUILD = 'the manager has no rebuild command';
const NO_DEDUPE = 'the manager has no dedupe command';

export const LAYOUTS: Layout[] = [
  { id: 'npm-hoisted', manager: 'npm11', label: 'npm 11, hoisted (default)' },
  { id: 'npm-nested', manager: 'npm11', label: 'npm 11, `install-strategy=nested`', setup: npmrc('install-strategy=nested') },
  { id: 'npm-shallow', manager: 'npm11', label: 'npm 11, `install-strategy=shallow`', setup: npmrc('install-strategy=shallow') },
  { id: 'npm-linked', manager: 'npm11', label: 'npm 11, `install-strategy=linked`', setup: npmrc('install-strategy=linked') },
  {
    id: 'npm-workspace',
    manager: 'npm11',
    label: 'npm 11, workspaces `packages/{app,lib}`, installed from the member',
    member: 'packages/app',
    setup: workspace((p) => (p.pkg.workspaces = ['packages/{app,lib}'])),
  },
  { id: 'pnpm-isolated', manager: 'pnpm10', label: 'pnpm 10, `node-linker=isolated` (default)', expect: { 'remove+add': PNPM10_RELINK } },
  { id: 'pnpm-hoisted', manager: 'pnpm10', label: 'pnpm 10, `node-linker=hoisted`', setup: npmrc('node-linker=hoisted') },
  { id: 'pnpm-pnp', manager: 'pnpm10', label: 'pnpm 10, `node-linker=pnp`', setup: npmrc('node-linker=pnp'), expect: { 'remove+add': PNPM10_RELINK } },
  {
    id: 'pnpm-workspace',
    manager: 'pnpm10',
    label: 'pnpm 10, workspace with `shared-workspace-lockfile=false`, installed from the member',
    member: 'packages/app',
    setup: workspace((p) => {
      append(join(p.app, 'pnpm-workspace.yaml'), 'packages:\n  - packages/*\n');
      npmrc('shared-workspace-lockfile=false')(p);
    }),
    expect: { 'remove+add': PNPM10_RELINK },
    skip: { ci: 'with shared-workspace-lockfile=false the lockfile lives in the member: a frozen install from the root has none to check' },
  },
  {
    id: 'pnpm-gvs',
    manager: 'pnpm-latest',
    label: 'pnpm latest, `enableGlobalVirtualStore: true`',
    // pnpm 10.34.9 refuses its own later commands in this mode (`pnpm add` after a rebuild: "If you want to use
    // the new virtual store location, reinstall your dependencies"), so the row runs the current pnpm.
    setup: (p) => append(join(p.app, 'pnpm-workspace.yaml'), 'enableGlobalVirtualStore: true\n'),
    expect: { 'remove+add': PNPM_GVS },
  },
  {
    id: 'pnpm-vsd',
    manager: 'pnpm10',
    label: 'pnpm 10, `virtual-store-dir=.pnpm-store-dir` (outside node_modules)', setup: npmrc('virtual-store-dir=.pnpm-store-dir'),
    expect: { 'remove+add': PNPM10_RELINK },
  },
  { id: 'yarn1', manager: 'yarn1', label: 'yarn 1 (hoisted)', skip: { rebuild: NO_REBUILD, dedupe: NO_DEDUPE } },
  { id: 'berry-pnp', manager: 'berry-pnp', label: 'yarn 4, `nodeLinker: pnp`, global cache (default)' },
  { id: 'berry-pnp-local', manager: 'berry-pnp', label: 'yarn 4, `nodeLinker: pnp`, `enableGlobalCache: false`', setup: yarnrc({ enableGlobalCache: 'false' }) },
  { id: 'berry-pnpm', manager: 'berry-node-modules', label: 'yarn 4, `nodeLinker: pnpm`, global cache (default)', setup: yarnrc({ nodeLinker: 'pnpm' }) },
  { id: 'berry-pnpm-local', manager: 'berry-node-modules', label: 'yarn 4, `nodeLinker: pnpm`, `enableGlobalCache: false`', setup: yarnrc({ nodeLinker: 'pnpm', enableGlobalCache: 'false' }) },
  { id: 'berry-nm', manager: 'berry-node-modules', label: 'yarn 4, `nodeLinker: node-modules`, global cache (default)' },
  { id: 'berry-nm-local', manager: 'berry-node-modules', label: 'yarn 4, `nodeLinker: node-modules`, `enableGlobalCache: false`', setup: yarnrc({ enableGlobalCache: 'false' }) },
  { id: 'bun-hoisted', manager: 'bun', label: 'bun, `linker = "hoisted"`', setup: bunLinker('hoisted'), skip: { rebuild: NO_REBUILD, dedupe: NO_DEDUPE } },
  { id: 'bun-isolated', manager: 'bun', label: 'bun, `linker = "isolated"`', setup: bunLinker('isolated'), expect: { 'remove+add': BUN_RELINK }, skip: { rebuild: NO_REBUILD, dedupe: NO_DEDUPE } },
  { id: 'deno', manager: 'deno', label: 'deno (`deno install`, node_modules)', skip: { rebuild: NO_REBUILD, dedupe: NO_DEDUPE } },
];

/** What a cell must give: the event's rule, or the layout's documented limit. */
export function expected(l: Layout, e: LayoutEvent): { events: number; why?: string } {
  return l.expect?.[e] ?? { events: EVENT_RULES[e].events };
}
