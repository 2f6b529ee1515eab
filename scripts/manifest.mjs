// The package.json that ships: only what a user's install needs. The repository's
// own package.json also carries the workspace (the collector), the development
// dependencies and the scripts; yarn 1 warns "Workspaces can only be enabled in
// private projects." twice on every install of a package depending on one that
// ships a "workspaces" field.
//
//   node scripts/manifest.mjs prepack         package.json becomes the published one (the original kept beside it)
//   node scripts/manifest.mjs postpack        the original is put back
//   node scripts/manifest.mjs prepublishOnly  refuses a directory publish (see below)
//   stage(dest)                               a folder holding exactly what `npm pack` ships (for the tests)
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PKG = join(ROOT, 'package.json');
const KEPT = join(ROOT, '.package.dev.json');

/** The fields an install, a resolver or a registry page reads; everything else stays in the repository. */
const PUBLISHED = ['name', 'version', 'description', 'keywords', 'license', 'author', 'repository', 'homepage', 'bugs', 'funding', 'type', 'bin', 'main', 'module', 'types', 'exports', 'files', 'sideEffects', 'engines', 'dependencies'];

export function publishedManifest(pkg) {
  return Object.fromEntries(PUBLISHED.filter((k) => pkg[k] !== undefined).map((k) => [k, pkg[k]]));
}

const text = (pkg) => `${JSON.stringify(pkg, null, 2)}\n`;

/** Write into `dest` the files `npm pack` ships, with the published package.json; returns dest. */
export function stage(dest) {
  mkdirSync(dest, { recursive: true });
  writeFileSync(join(dest, 'package.json'), text(publishedManifest(JSON.parse(readFileSync(PKG, 'utf8')))));
  for (const f of ['README.md', 'LICENSE']) copyFileSync(join(ROOT, f), join(dest, f));
  cpSync(join(ROOT, 'dist'), join(dest, 'dist'), { recursive: true });
  return dest;
}

const step = {
  prepack() {
    // A kept original means a pack was cut short: it is the real one, never overwrite it.
    if (!existsSync(KEPT)) copyFileSync(PKG, KEPT);
    writeFileSync(PKG, text(publishedManifest(JSON.parse(readFileSync(KEPT, 'utf8')))));
  },
  postpack() {
    if (existsSync(KEPT)) renameSync(KEPT, PKG);
  },
  // `npm publish` of a folder re-reads package.json after postpack and sends that,
  // the development one, as the registry's metadata: publish the tarball instead.
  prepublishOnly() {
    process.stderr.write('install-beacon: publish the packed tarball, whose package.json the registry then shows: npm pack && npm publish install-beacon-<version>.tgz\n');
    process.exitCode = 1;
  },
};

const command = process.argv[2];
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (!step[command]) throw new Error(`usage: node scripts/manifest.mjs ${Object.keys(step).join('|')}`);
  step[command]();
}
