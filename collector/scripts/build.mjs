// Bundles the collector into dist/bin.cjs. install-beacon's template parser
// (../src/template.ts) is bundled in at build time, so the packed collector
// depends on nothing unpublished; its runtime dependencies (better-sqlite3, pg)
// stay external and are installed from the registry.
import { build } from 'esbuild';
import { chmodSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });

await build({
  entryPoints: [join(root, 'src/bin.ts')],
  outfile: join(dist, 'bin.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: Object.keys(pkg.dependencies),
  define: { __COLLECTOR_VERSION__: JSON.stringify(pkg.version) },
  banner: { js: '#!/usr/bin/env node' },
  legalComments: 'none',
  logLevel: 'warning',
});

// Executable, so the workspace's node_modules/.bin link (made by npm ci before the build) runs it.
chmodSync(join(dist, 'bin.cjs'), 0o755);
