import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { NPM } from '../support/fixture.js';
import { exec } from './procs.js';

// The real tools, installed from the npm registry by the matrix itself into a
// cache keyed by exact version: <cache>/<name>@<version>/node_modules/<name>.
// A folder counts only once its `.complete` stamp exists, so an interrupted
// install is redone, never half-used.

export const CACHE = process.env.INSTALL_BEACON_MATRIX_CACHE || join(homedir(), '.cache', 'install-beacon-matrix');

export interface Installed {
  name: string;
  version: string;
  /** <dir>/node_modules/<name> */
  pkgDir: string;
  /** <dir>/node_modules/.bin */
  binDir: string;
}

export type Tool = { ok: true; tool: Installed } | { ok: false; reason: string };

/** The exact version a range or tag names today (a registry query through the host's npm). */
export async function resolveVersion(name: string, range: string): Promise<string> {
  if (/^\d+\.\d+\.\d+$/.test(range)) return range;
  mkdirSync(CACHE, { recursive: true });
  const r = await exec(NPM, ['view', `${name}@${range}`, 'version', '--json'], { cwd: CACHE, env: process.env, timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`npm view ${name}@${range} failed: ${lastLine(r.stderr)}`);
  const parsed = JSON.parse(r.stdout) as string | string[];
  // npm lists matches in publish order, not version order (10.34.9 can come before 10.34.8).
  const list = (Array.isArray(parsed) ? parsed : [parsed]).sort(compareVersions);
  const version = list[list.length - 1];
  if (!version) throw new Error(`no version of ${name} matches ${range}`);
  return version;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.+-]/).map(Number);
  const pb = b.split(/[.+-]/).map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

const lastLine = (text: string): string => text.trim().split('\n').filter(Boolean).slice(-3).join(' | ').slice(0, 300);

// At most 4 tool downloads at once: they overlap network waits without
// swamping a 2-core machine's memory with a dozen npm processes.
let running = 0;
const queue: Array<() => void> = [];
async function limited<T>(job: () => Promise<T>): Promise<T> {
  if (running >= 4) await new Promise<void>((r) => queue.push(r));
  running++;
  try {
    return await job();
  } finally {
    running--;
    queue.shift()?.();
  }
}

// One install at a time per name@version, even when several cases ask for it.
const pending = new Map<string, Promise<Tool>>();

export function ensureTool(name: string, range: string, options: { overrides?: Record<string, unknown> } = {}): Promise<Tool> {
  const key = `${name}@${range}`;
  let p = pending.get(key);
  if (!p) {
    p = install(name, range, options).catch((e: Error): Tool => ({ ok: false, reason: e.message }));
    pending.set(key, p);
  }
  return p;
}

async function install(name: string, range: string, options: { overrides?: Record<string, unknown> }): Promise<Tool> {
  const version = await resolveVersion(name, range);
  const dir = join(CACHE, `${name.replace('/', '+')}@${version}`);
  const tool: Installed = { name, version, pkgDir: join(dir, 'node_modules', name), binDir: join(dir, 'node_modules', '.bin') };
  if (existsSync(join(dir, '.complete'))) return { ok: true, tool };
  const tmp = `${dir}.partial`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  writeFileSync(join(tmp, 'package.json'), JSON.stringify({ private: true, dependencies: { [name]: version }, overrides: options.overrides }, null, 2));
  // The host's npm and npmrc: this is the one step that talks to the npm registry.
  // Install scripts stay on: bun and pnpm link their platform binary in a postinstall.
  const r = await limited(() => exec(NPM, ['install', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error'], { cwd: tmp, env: process.env, timeoutMs: 600_000 }));
  if (r.code !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`npm install ${name}@${version} failed (exit ${r.code}): ${lastLine(r.stderr)}`);
  }
  const got = (JSON.parse(readFileSync(join(tmp, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  if (got.replace(/^v/, '') !== version) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`asked for ${name}@${version}, got ${got}`);
  }
  writeFileSync(join(tmp, '.complete'), `${new Date().toISOString()}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return { ok: true, tool };
}

/** A Node.js binary from the registry package node-<platform>-<arch>@<version>. */
export async function ensureNode(version: string): Promise<{ ok: true; node: string } | { ok: false; reason: string }> {
  if (process.platform !== 'linux' && process.platform !== 'darwin') return { ok: false, reason: `no node-${process.platform}-${process.arch} binaries on the registry` };
  const name = `node-${process.platform}-${process.arch}`;
  const t = await ensureTool(name, version);
  if (!t.ok) return t;
  const node = join(t.tool.pkgDir, 'bin', 'node');
  const r = await exec(node, ['--version'], { cwd: CACHE, env: process.env, timeoutMs: 30_000 });
  if (r.code !== 0 || r.stdout.trim() !== `v${version}`) return { ok: false, reason: `${node} --version: ${r.stdout.trim() || r.stderr.trim()}` };
  return { ok: true, node };
}
