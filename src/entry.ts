import { nodeMajor } from './env.js';

// The library entry Node loads: dist/index.cjs (dist/index.mjs re-exports it).
// Built for Node 12 syntax so that `require('install-beacon')` and `import`
// load on every Node that `engines` admits; below 18 reportInstall does
// nothing. The code that decides and sends (dist/cli.cjs, Node 18 syntax) is
// loaded on the first call, and only on Node 18+.

type Api = typeof import('./index.js');

let api: Api | undefined;

/** Count this install once (README: "Counting installs where scripts are blocked"). Never throws. */
export function reportInstall(from: string | URL): void {
  try {
    if (typeof process === 'undefined' || !process.versions || nodeMajor(process.versions.node || '') < 18) return;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    api = api || (require('./cli.cjs') as Api);
    api.reportInstall(from);
  } catch {
    // reportInstall never throws.
  }
}
