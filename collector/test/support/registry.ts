import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

// An npm registry on 127.0.0.1 that serves the packages this repository's install holds
// (every version in package-lock.json that is in node_modules), so a real `npm install` or
// `npx` of a packed collector resolves its dependencies without reaching anywhere else.
// better-sqlite3's install script (prebuild-install) downloads its prebuilt binary: the
// registry serves it too (from this install's build), at the mirror the script is pointed at
// with npm_config_better_sqlite3_binary_host.

export interface LocalRegistry {
  url: string;
  /** For npm_config_better_sqlite3_binary_host. */
  binaryHost: string;
  /** Package names asked for (packuments served). */
  served: Set<string>;
  /** How many times the prebuilt binary was fetched. */
  readonly prebuilt: number;
  close(): Promise<void>;
}

interface Version { dir: string; manifest: Record<string, unknown> }

/** `dir`/package/... as `npm pack` lays it out: the package folder without its own node_modules (and, for a native addon, without its build). */
function tarball(dir: string, name: string): Buffer {
  const exclude = ['--exclude=./node_modules', ...(name === 'better-sqlite3' ? ['--exclude=./build'] : [])];
  return execFileSync('tar', ['-czf', '-', ...exclude, '--transform', 's,^\\.,package,', '-C', dir, '.'], { maxBuffer: 256 * 1024 * 1024 });
}

export async function startLocalRegistry(root: string): Promise<LocalRegistry> {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; link?: boolean }> };
  const byName = new Map<string, Map<string, Version>>();
  for (const [key, entry] of Object.entries(lock.packages)) {
    const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)$/.exec(key);
    const dir = join(root, key);
    if (!m || entry.link || !existsSync(join(dir, 'package.json'))) continue;
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
    const versions = byName.get(m[1]!) ?? new Map<string, Version>();
    versions.set(String(manifest.version), { dir, manifest });
    byName.set(m[1]!, versions);
  }
  const files = new Map<string, Buffer>();
  const served = new Set<string>();
  let base = '';
  let prebuilt = 0;

  const server = http.createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    const send = (status: number, body: Buffer | string, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (path.startsWith('/-/prebuilt/') && path.endsWith('.tar.gz')) {
      prebuilt++;
      const addon = [...(byName.get('better-sqlite3')?.values() ?? [])][0]!.dir;
      return send(200, execFileSync('tar', ['-czf', '-', '-C', addon, 'build/Release/better_sqlite3.node'], { maxBuffer: 64 * 1024 * 1024 }), 'application/gzip');
    }
    const file = files.get(path);
    if (file) return send(200, file, 'application/octet-stream');
    const name = path.slice(1);
    const versions = byName.get(name);
    if (!versions) return send(404, JSON.stringify({ error: 'not found' }));
    served.add(name);
    const out: Record<string, unknown> = {};
    let latest = '';
    for (const [version, v] of versions) {
      const at = `/-/tarballs/${name}/${version}.tgz`;
      const tgz = files.get(at) ?? tarball(v.dir, name);
      files.set(at, tgz);
      out[version] = { ...v.manifest, dist: { tarball: base + at, integrity: `sha512-${createHash('sha512').update(tgz).digest('base64')}`, shasum: createHash('sha1').update(tgz).digest('hex') } };
      latest = version;
    }
    send(200, JSON.stringify({ name, 'dist-tags': { latest }, versions: out }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url: base + '/', binaryHost: base + '/-/prebuilt', served, get prebuilt() { return prebuilt; }, close: () => new Promise((r) => server.close(() => r())) };
}
