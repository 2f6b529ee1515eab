import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { baseEnv, ROOT, TempDirs } from '../../test/support/process.js';
import { request, waitUntil } from './support/http.js';
import { startLocalRegistry, type LocalRegistry } from './support/registry.js';

// The README's way to run a packed copy, as written:
//   npx --yes --package=./install-beacon-collector-X.tgz install-beacon-collector
// a real npm pack of the collector, a real npx (its own cache and HOME) that installs it with its
// dependencies from a registry on 127.0.0.1 (test/support/registry.ts), and the started collector
// storing an install and counting it.

const temps = new TempDirs();
let registry: LocalRegistry | undefined;
let child: ChildProcess | undefined;
afterAll(async () => {
  // npx runs the bin in a child of its own: the whole group, by npx's PID.
  if (child?.pid !== undefined && child.exitCode === null) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await registry?.close();
  temps.cleanup();
});

describe('npx --package=./install-beacon-collector-X.tgz install-beacon-collector', () => {
  it('installs the packed copy and its dependencies, starts it, and it stores and counts an install', async () => {
    const collector = join(ROOT, 'collector');
    const { version } = JSON.parse(readFileSync(join(collector, 'package.json'), 'utf8')) as { version: string };
    const dir = temps.make('ibc-npx-');
    const home = temps.make('ibc-npx-home-');
    // dist/ is built by the test script (npm test builds first), as for the other real-process tests.
    execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], { cwd: collector, encoding: 'utf8' });
    registry = await startLocalRegistry(ROOT);
    const env = baseEnv(home, {
      npm_config_registry: registry.url,
      npm_config_cache: join(home, 'npm-cache'),
      npm_config_better_sqlite3_binary_host: registry.binaryHost,
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      npm_config_update_notifier: 'false',
      INSTALL_BEACON_TOKEN: 'npx-token-0123456789abcdef',
    });
    // The command exactly as collector/README.md gives it, for this version's tarball.
    const readme = readFileSync(join(collector, 'README.md'), 'utf8');
    const command = /`(npx --yes --package=\.\/install-beacon-collector-[^`\s]+\.tgz install-beacon-collector)`/.exec(readme)?.[1];
    expect(command, 'collector/README.md gives the npx command for a packed copy').toBe(`npx --yes --package=./install-beacon-collector-${version}.tgz install-beacon-collector`);
    const [npx, ...args] = command!.split(' ');
    child = spawn(npx!, [...args, '--port', '0', '--db', './events.db'], { cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    await waitUntil('the listening line, or npx exiting', () => /listening on (http:\/\/\S+)/.test(out) || child!.exitCode !== null, 480_000);
    const url = /^install-beacon-collector listening on (http:\/\/\S+)$/m.exec(out)?.[1];
    expect(url, `${out}\n${err}`).toBeDefined();
    expect((await request(url!, '/acme-lib/2.3.4/linux/x64?event_id=npx-1')).status).toBe(200);
    const counted = await request(url!, '/downloads/point/last-day/acme-lib', { headers: { authorization: 'Bearer npx-token-0123456789abcdef' } });
    expect([counted.status, JSON.parse(counted.body).downloads]).toEqual([200, 1]);
    // Its dependencies came from the loopback registry (nothing else was reachable).
    expect([...registry.served].filter((n) => n === 'better-sqlite3' || n === 'pg').sort()).toEqual(['better-sqlite3', 'pg']);
    expect(registry.prebuilt).toBe(1); // better-sqlite3's install script took its binary from the loopback mirror
  }, 600_000);
});
