import { describe, expect, it } from 'vitest';
import { detectPM, detectPMFromTree, pmVersionOf } from '../src/context.js';
import { MemFs } from './support/memfs.js';

// pm and pm_version from the tree, when no user agent names them (the runtime
// trigger, explain): the tree's layout says which manager, then what the
// installing tool wrote (pnpm's node_modules/.modules.yaml, yarn berry's
// yarnPath) or what the project pins (package.json "packageManager") says
// which version. One row per way each source is written.

const PNPM_STORE = '/app/node_modules/.pnpm/acme-lib@2.3.4/node_modules/acme-lib';
const HOISTED = '/app/node_modules/acme-lib';
const YARN_PNP = '/app/.yarn/unplugged/acme-lib-npm-2.3.4-x/node_modules/acme-lib';
const MODULES = '/app/node_modules/.modules.yaml';
const YARNRC = '/app/.yarnrc.yml';
const PKG = '/app/package.json';

type Row = [string, string, Record<string, string>, string, string];
const rows: Row[] = [
  // pnpm's .modules.yaml
  ['pnpm 10 (JSON, quoted key)', PNPM_STORE, { [MODULES]: '{\n  "hoistPattern": ["*"],\n  "packageManager": "pnpm@10.34.9",\n  "pendingBuilds": []\n}\n' }, 'pnpm', '10.34.9'],
  ['pnpm 8 (plain YAML)', PNPM_STORE, { [MODULES]: "hoistPattern:\n  - '*'\npackageManager: pnpm@8.15.0\npendingBuilds: []\n" }, 'pnpm', '8.15.0'],
  ['YAML with a single-quoted value', PNPM_STORE, { [MODULES]: "packageManager: 'pnpm@9.1.0'\n" }, 'pnpm', '9.1.0'],
  ['no space after the colon', PNPM_STORE, { [MODULES]: '{\n"packageManager":"pnpm@10.1.0"\n}\n' }, 'pnpm', '10.1.0'],
  ['two spaces after the colon', PNPM_STORE, { [MODULES]: '  "packageManager":  "pnpm@10.2.0",\n' }, 'pnpm', '10.2.0'],
  ['a space before the colon', PNPM_STORE, { [MODULES]: 'packageManager : pnpm@8.6.0\n' }, 'pnpm', '8.6.0'],
  ['a commented-out line is not read', PNPM_STORE, { [MODULES]: '# packageManager: pnpm@1.0.0\n' }, 'pnpm', 'unknown'],
  ['the integrity suffix is dropped', PNPM_STORE, { [MODULES]: 'packageManager: pnpm@10.34.9+sha512.abcdef\n' }, 'pnpm', '10.34.9'],
  ['a prerelease is kept whole', PNPM_STORE, { [MODULES]: 'packageManager: pnpm@9.0.0-rc.1\n' }, 'pnpm', '9.0.0-rc.1'],
  ['a two-digit patch', PNPM_STORE, { [MODULES]: 'packageManager: pnpm@8.15.10\n' }, 'pnpm', '8.15.10'],
  ['another tool whose name ends in pnpm is not pnpm', PNPM_STORE, { [MODULES]: 'packageManager: xpnpm@1.2.3\n' }, 'pnpm', 'unknown'],
  ['not a version', PNPM_STORE, { [MODULES]: 'packageManager: pnpm@latest\n' }, 'pnpm', 'unknown'],
  // yarn berry's yarnPath
  ['yarn 4 yarnPath', YARN_PNP, { [YARNRC]: 'nodeLinker: pnp\nyarnPath: .yarn/releases/yarn-4.18.1.cjs\n' }, 'yarn', '4.18.1'],
  ['a quoted yarnPath', YARN_PNP, { [YARNRC]: 'yarnPath: ".yarn/releases/yarn-4.5.0.cjs"\n' }, 'yarn', '4.5.0'],
  ['a single-quoted yarnPath', YARN_PNP, { [YARNRC]: "yarnPath: '.yarn/releases/yarn-3.6.4.cjs'\n" }, 'yarn', '3.6.4'],
  ['a yarnPath without a space', YARN_PNP, { [YARNRC]: 'yarnPath:.yarn/releases/yarn-4.1.0.cjs\n' }, 'yarn', '4.1.0'],
  ['a yarnPath after two spaces', YARN_PNP, { [YARNRC]: 'yarnPath:  .yarn/releases/yarn-4.2.0.cjs\n' }, 'yarn', '4.2.0'],
  ['a yarn 2 release (.js)', YARN_PNP, { [YARNRC]: 'yarnPath: .yarn/releases/yarn-2.4.3.js\n' }, 'yarn', '2.4.3'],
  ['a release in the project folder itself', YARN_PNP, { [YARNRC]: 'yarnPath: yarn-4.3.1.cjs\n' }, 'yarn', '4.3.1'],
  ['a two-digit major', YARN_PNP, { [YARNRC]: 'yarnPath: .yarn/releases/yarn-10.0.2.cjs\n' }, 'yarn', '10.0.2'],
  ['a yarn prerelease', YARN_PNP, { [YARNRC]: 'yarnPath: .yarn/releases/yarn-4.0.0-rc.42.cjs\n' }, 'yarn', '4.0.0-rc.42'],
  ['a commented-out yarnPath is not read', YARN_PNP, { [YARNRC]: '# yarnPath: .yarn/releases/yarn-3.0.0.cjs\n' }, 'yarn', 'unknown'],
  // package.json "packageManager"
  ['the project pins pnpm', PNPM_STORE, { [PKG]: JSON.stringify({ packageManager: 'pnpm@9.12.3+sha512.cce0f9de' }) }, 'pnpm', '9.12.3'],
  ['a pin with spaces around it', PNPM_STORE, { [PKG]: JSON.stringify({ packageManager: ' pnpm@9.1.0 ' }) }, 'pnpm', '9.1.0'],
  ['a pin that is not a string', PNPM_STORE, { [PKG]: JSON.stringify({ packageManager: 9 }) }, 'pnpm', 'unknown'],
  ['a malformed package.json', PNPM_STORE, { [PKG]: '{' }, 'pnpm', 'unknown'],
  ['no lockfile, no layout hint: the pin names the manager too', HOISTED, { [PKG]: JSON.stringify({ packageManager: 'yarn@1.22.19' }) }, 'yarn', '1.22.19'],
  // Sources that disagree with the layout are skipped, not believed.
  ['a pnpm store with a yarnPath and a pnpm pin: the pin', PNPM_STORE, { [YARNRC]: 'yarnPath: .yarn/releases/yarn-4.18.1.cjs\n', [PKG]: JSON.stringify({ packageManager: 'pnpm@9.4.0' }) }, 'pnpm', '9.4.0'],
  ['an npm lockfile with a pnpm pin: npm, version unknown', HOISTED, { '/app/package-lock.json': '{}', [PKG]: JSON.stringify({ packageManager: 'pnpm@9.4.0' }) }, 'npm', 'unknown'],
  ['.modules.yaml wins over the pin', PNPM_STORE, { [MODULES]: 'packageManager: pnpm@10.0.0\n', [PKG]: JSON.stringify({ packageManager: 'pnpm@9.4.0' }) }, 'pnpm', '10.0.0'],
];

describe('detectPMFromTree: pm and pm_version', () => {
  it.each(rows)('%s', (_n, pkgDir, files, pm, pmVersion) => {
    expect(detectPMFromTree(pkgDir, '/app', new MemFs(files).probes())).toEqual({ pm, pmVersion });
  });

  it('without a project root (a package in no installed tree) reads no file for the version', () => {
    const fs = new MemFs({ 'undefined/node_modules/.modules.yaml': 'packageManager: pnpm@1.2.3\n' });
    expect(detectPMFromTree(PNPM_STORE, undefined, fs.probes())).toEqual({ pm: 'pnpm', pmVersion: 'unknown' });
    expect(fs.calls.filter((c) => c.startsWith('readText'))).toEqual([]);
  });
});

// Issue 19 item 12: from every source, only a plain version is sent.
describe('pmVersionOf: MAJOR.MINOR.PATCH with at most a standard prerelease, else "unknown"', () => {
  it.each([
    ['11.19.1', '11.19.1'],
    ['0.0.0', '0.0.0'],
    ['4.0.0-rc.42', '4.0.0-rc.42'],
    ['9.0.0-beta.3', '9.0.0-beta.3'],
    ['11.0.0-pre.0', '11.0.0-pre.0'],
    ['1.2.0-canary.17', '1.2.0-canary.17'],
    ['10.0.0-alpha', '10.0.0-alpha'],
    ['1.1.35-canary.1+c58f9ac2e', '1.1.35-canary.1'], // a build suffix is dropped
    ['10.34.9+sha512.abcdef', '10.34.9'],
    ['11.19.1-my-secret-project.alice-laptop', 'unknown'],
    ['4.18.1-acmecorp-build-host-ci07', 'unknown'],
    ['1.2.3-rc.1.alice', 'unknown'],
    ['1.2.3-rcx', 'unknown'],
    ['1.2.3+alice laptop', '1.2.3'], // what follows a + is never sent
    ['1.2', 'unknown'],
    ['v1.2.3', 'unknown'],
    ['1.2.3.4', 'unknown'],
    ['latest', 'unknown'],
    ['', 'unknown'],
    [undefined, 'unknown'],
  ])('%j → %s', (text, expected) => {
    expect(pmVersionOf(text)).toBe(expected);
  });

  it.each([
    ['npm/11.19.1-my-secret-project.alice-laptop node/v20.20.2 linux x64', 'npm', 'unknown'],
    ['pnpm/10.0.0-rc.1 npm/? node/v20.20.2 linux x64', 'pnpm', '10.0.0-rc.1'],
    ['yarn/4.18.1-acmecorp-build-host-ci07 npm/? node/v20.20.2', 'yarn', 'unknown'],
    ['bun/1.4.5+a1b2c3 npm/? node/v26.3.0', 'bun', '1.4.5'],
  ])('the user agent %j → %s %s', (ua, pm, pmVersion) => {
    expect(detectPM({ npm_config_user_agent: ua })).toEqual({ pm, pmVersion });
  });
});
