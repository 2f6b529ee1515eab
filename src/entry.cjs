'use strict';
// dist/index.cjs: the library entry, in plain CommonJS and Node 12 syntax so
// that `require('install-beacon')` and `import` load on every Node that
// `engines` admits. Below Node 18 reportInstall does nothing and dist/core.cjs
// (Node 18 syntax) is never loaded. Written as CommonJS, not TypeScript: a
// converted ES module would carry esbuild's interop helpers, four times this
// file's size. The public API, declared in dist/index.d.cts and index.d.mts by
// scripts/build.mjs; README: "Counting installs where scripts are blocked".

const major = typeof process === 'object' && process.versions ? parseInt(String(process.versions.node).split('.')[0], 10) : 0;

/** Count this install once. Never throws. */
module.exports = { reportInstall: major >= 18 ? require('./core.cjs').reportInstall : function () {} };
