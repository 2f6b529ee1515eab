// Bundles install-beacon into dist/, minified. Each file is loaded only by the path that needs it:
//   bin.cjs      the executable: opt-out and self-install checks (Node 12 syntax, so old Node exits 0 cleanly)
//   index.cjs    src/entry.cjs: the library entry, Node 12 syntax so that `require('install-beacon')` loads on
//                every Node that `engines` admits; below Node 18 reportInstall is a no-op, else it is core.cjs's
//   core.cjs     src/core.ts: the decision, the commands and reportInstall, shipped once, loaded by bin.cjs
//                when something may be sent or for a command, and by index.cjs on Node 18+. Node 18 syntax:
//                without `?.` and `??` rewritten for Node 12 it is 2.4 kB smaller (and less to parse)
//   deliver.cjs  the HTTP request, direct or through a proxy (loaded only when sending)
//   index.mjs    `import`: re-exports index.cjs (no createRequire, so a CommonJS bundle of an app runs)
//   browser.mjs  reportInstall as a no-op, for browser bundles
//   index.d.cts / index.d.mts   the public API's declarations (reportInstall only), one per module format
import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });

// Imports of these modules become a require() of the separate dist file instead of being inlined.
const SPLIT = { './core.js': './core.cjs', './core.cjs': './core.cjs', './deliver.js': './deliver.cjs' };
const splitFiles = (self) => ({
  name: 'split-files',
  setup(b) {
    b.onResolve({ filter: /^\.\/(core|deliver)\.c?js$/ }, (args) =>
      args.path === self ? undefined : { path: SPLIT[args.path], external: true },
    );
    // Node 12 to 14.17 cannot require('node:fs'); bundled dependencies use that form.
    b.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path.slice(5), external: true }));
    // ci-info's vendor table, with only the fields src/context.ts reads (each row
    // also has a display name and a pull-request rule: 2.2 kB of 4.7 kB).
    b.onLoad({ filter: /[\\/]ci-info[\\/]vendors\.json$/ }, (args) => ({
      contents: JSON.stringify(JSON.parse(readFileSync(args.path, 'utf8')).map(({ constant, env }) => ({ constant, env }))),
      loader: 'json',
    }));
  },
});

const common = {
  bundle: true,
  platform: 'node',
  logLevel: 'warning',
  define: { __BEACON_VERSION__: JSON.stringify(pkg.version) },
  legalComments: 'none',
  minify: true,
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
  cjs('src/entry.cjs', 'index.cjs', 'node12', './entry.cjs'),
  cjs('src/core.ts', 'core.cjs', 'node18', './core.js'),
  cjs('src/deliver.ts', 'deliver.cjs', 'node18', './deliver.js'),
  build({ ...common, entryPoints: [join(root, 'src/browser.ts')], outfile: join(dist, 'browser.mjs'), format: 'esm', target: 'es2020', platform: 'neutral' }),
]);

// The ESM entry: Node's own CommonJS interop, nothing evaluated at load that
// needs import.meta (a bundler may turn this file into CommonJS).
writeFileSync(join(dist, 'index.mjs'), "import m from './index.cjs';\nexport const reportInstall = m.reportInstall;\n");

// Declarations of the public API only, one per module format (node16 resolution
// reads index.d.cts for require and index.d.mts for import).
const DECLARATION = `/**
 * Count this install of the calling package once, for installs whose postinstall
 * never ran. Call it at the top of the package's main module. Returns at once,
 * never throws, never sends from the author's own repository, honours every
 * opt-out; does nothing in browsers and on Node.js older than 18.
 * @param from \`__filename\` (CommonJS) or \`import.meta.url\` (ESM) of a module inside the package.
 */
export declare function reportInstall(from: string | URL): void;
`;
mkdirSync(dist, { recursive: true });
writeFileSync(join(dist, 'index.d.cts'), DECLARATION);
writeFileSync(join(dist, 'index.d.mts'), DECLARATION);
