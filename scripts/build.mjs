// Bundles install-beacon into dist/. Each file is loaded only by the path that needs it:
//   bin.cjs      the executable: opt-out and self-install checks (Node 12 syntax, so old Node exits 0 cleanly)
//   cli.cjs      decision, commands, delivery decision (loaded when something may be sent, or for a command)
//   deliver.cjs  the HTTP request (loaded only when sending)
//   index.cjs / index.mjs / types/   the library entry (reportInstall); browser.mjs is its no-op browser twin
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });

// Imports of these modules become a require() of the separate dist file instead of being inlined.
const SPLIT = { './cli.js': './cli.cjs', './cli.cjs': './cli.cjs', './deliver.js': './deliver.cjs' };
const splitFiles = (self) => ({
  name: 'split-files',
  setup(b) {
    b.onResolve({ filter: /^\.\/(cli|deliver)\.c?js$/ }, (args) =>
      args.path === self ? undefined : { path: SPLIT[args.path], external: true },
    );
    // Node 12 to 14.17 cannot require('node:fs'); bundled dependencies use that form.
    b.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path.slice(5), external: true }));
  },
});

const common = {
  bundle: true,
  platform: 'node',
  logLevel: 'warning',
  define: { __BEACON_VERSION__: JSON.stringify(pkg.version) },
  legalComments: 'none',
};

// NAMESPACE_COPY: src/ loads Node built-ins with `const fs = require('fs')`, not
// `import * as fs from 'fs'`: for the latter esbuild's CommonJS output wraps the
// module in __toESM(), which copies every property of fs/path/http onto a new
// object at load. Six such copies were 2.5 ms of a 68 ms background send in a
// --cpu-prof (the largest item in cli.cjs).
//
// `supported: dynamic-import false`: in a .cjs file esbuild would otherwise keep
// `await import('./deliver.cjs')` as a native import(), which starts Node's ESM
// loader (9 more internal modules, and cjs-module-lexer parsing deliver.cjs)
// on the sending path; as require() it is one plain CommonJS load.
const cjs = (entry, out, target, self, extra = {}) =>
  build({ ...common, entryPoints: [join(root, entry)], outfile: join(dist, out), format: 'cjs', target, supported: { 'dynamic-import': false }, plugins: [splitFiles(self)], ...extra });

await Promise.all([
  cjs('src/bin.ts', 'bin.cjs', 'node12', './bin.js', { banner: { js: '#!/usr/bin/env node' } }),
  cjs('src/cli.ts', 'cli.cjs', 'node18', './cli.js'),
  cjs('src/deliver.ts', 'deliver.cjs', 'node18', './deliver.js'),
  cjs('src/index.ts', 'index.cjs', 'node18', 'none'),
  build({ ...common, entryPoints: [join(root, 'src/index.ts')], outfile: join(dist, 'index.mjs'), format: 'esm', target: 'node18', plugins: [splitFiles('none')],
    // dist/*.cjs chunks are loaded from ESM through require()
    banner: { js: "import { createRequire as __ibCreateRequire } from 'node:module'; import { dirname as __ibDirname } from 'node:path'; import { fileURLToPath as __ibFileURLToPath } from 'node:url'; const require = __ibCreateRequire(import.meta.url); const __dirname = __ibDirname(__ibFileURLToPath(import.meta.url));" } }),
  build({ ...common, entryPoints: [join(root, 'src/browser.ts')], outfile: join(dist, 'browser.mjs'), format: 'esm', target: 'es2020', platform: 'neutral' }),
]);

// Type declarations for the library entry.
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.types.json')], { stdio: 'inherit' });
