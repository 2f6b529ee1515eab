// npm run test:matrix: bundle test/matrix/main.ts (TypeScript, sharing test/support
// with the unit tests) into a temp file and run it. Arguments pass through:
//   --only=<regex>   run only the manager ids (npm10, pnpm-latest, berry-pnp, ...),
//                    "npm-situations" or "node" that match; leaves README.md alone
//   --no-readme      do not rewrite docs/compatibility.md
import { build } from 'esbuild';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = mkdtempSync(join(tmpdir(), 'ib-matrix-bundle-'));
const file = join(out, 'matrix.mjs');
try {
  await build({
    entryPoints: [join(root, 'test/matrix/main.ts')],
    outfile: file,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
    // import.meta.url in test/support must keep pointing at the repo, not the temp file.
    define: { 'import.meta.url': JSON.stringify(pathToFileURL(join(root, 'test/support/process.ts')).href) },
  });
} catch (e) {
  rmSync(out, { recursive: true, force: true });
  throw e;
}
// main.ts exits the process itself; remove the bundle first (it is already loaded once imported).
process.on('exit', () => rmSync(out, { recursive: true, force: true }));
await import(pathToFileURL(file).href);
