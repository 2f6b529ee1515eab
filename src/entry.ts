import { run } from './cli.js';
import { nodeMajor } from './env.js';
import { reportInstall as report } from './runtime.js';

// dist/index.cjs: the library entry, and the code dist/bin.cjs loads once the
// cheap checks have passed. One file, so that the decision code is shipped
// (and loaded) once. Built for Node 12 syntax so that `require('install-beacon')`
// and `import` load on every Node that `engines` admits; below 18 reportInstall
// does nothing (the bin never loads this file there).

const supported = typeof process !== 'undefined' && !!process.versions && nodeMajor(process.versions.node || '') >= 18;

/** Count this install once (README: "Counting installs where scripts are blocked"): the public API, declared in dist/index.d.cts and index.d.mts by scripts/build.mjs. Never throws. */
export const reportInstall: (from: string | URL) => void = supported ? report : () => undefined;

/** For dist/bin.cjs only: the build makes it a non-enumerable property, not part of the API. */
export { run };
