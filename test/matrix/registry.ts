import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { NPM } from '../support/fixture.js';
import { exec, track, untrack } from './procs.js';
import type { Installed } from './tools.js';

// A real npm registry on 127.0.0.1: verdaccio with no uplinks, so nothing can
// be fetched from (or leak to) anywhere else, and anyone may publish.

export interface Registry {
  url: string;
  port: number;
  pid: number;
  /** `npm publish` a tarball or folder (under `tag`, `latest` by default); throws on failure. */
  publish(target: string, home: string, tag?: string): Promise<void>;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export async function startRegistry(verdaccio: Installed, node: string, work: string): Promise<Registry> {
  const storage = join(work, 'storage');
  mkdirSync(storage, { recursive: true });
  const config = join(work, 'config.yaml');
  writeFileSync(
    config,
    [
      `storage: ${JSON.stringify(storage)}`,
      `auth: { htpasswd: { file: ${JSON.stringify(join(work, 'htpasswd'))}, max_users: -1 } }`,
      'uplinks: {}',
      "packages: { '**': { access: $all, publish: $all, unpublish: $all } }",
      'web: { enable: false }',
      'log: { type: stdout, format: pretty, level: warn }',
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  let log = '';
  const child: ChildProcess = spawn(node, [join(verdaccio.pkgDir, 'bin', 'verdaccio'), '-c', config, '-l', `127.0.0.1:${port}`], {
    cwd: work,
    env: { ...process.env, HOME: work },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: process.platform !== 'win32',
  });
  track(child.pid);
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const stop = () =>
    new Promise<void>((resolve) => {
      untrack(child.pid);
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 3000).unref();
    });
  // Ready when the ping answers (bounded).
  const end = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`verdaccio exited (${child.exitCode}): ${log.slice(-500)}`);
    const ok = await fetch(`${url}-/ping`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > end) {
      await stop();
      throw new Error(`verdaccio did not answer on ${url} within 30 s: ${log.slice(-500)}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  return {
    url,
    port,
    pid: child.pid!,
    async publish(target, home, tag = 'latest') {
      // `publish: $all` accepts any token; npm only needs one to be configured.
      const npmrc = join(home, 'publish.npmrc');
      writeFileSync(npmrc, `registry=${url}\n//127.0.0.1:${port}/:_authToken=matrix\n`);
      const r = await exec(NPM, ['publish', target, '--registry', url, '--userconfig', npmrc, '--ignore-scripts', '--loglevel=error', '--tag', tag], {
        cwd: home,
        env: { ...process.env, HOME: home },
        timeoutMs: 60_000,
      });
      if (r.code !== 0) throw new Error(`npm publish ${target} failed: ${r.stderr.slice(-500)}`);
    },
    stop,
  };
}
