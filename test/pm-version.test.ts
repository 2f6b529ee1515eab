import { describe, expect, it } from 'vitest';
import { detectPMFromTree } from '../src/context.js';
import { MemFs } from './support/memfs.js';

// {pm_version} without a user agent (reportInstall, explain): from what the tree records.

const NM = '/app/node_modules/acme-lib';
const PNPM = '/app/node_modules/.pnpm/acme-lib@2.3.4/node_modules/acme-lib';

describe('detectPMFromTree: the version, where the tree records it', () => {
  it.each([
    // As pnpm 10.34.9 writes it (JSON, which is YAML too), cut down from a real install.
    ['pnpm 10: node_modules/.modules.yaml (JSON)', PNPM, { '/app/node_modules/.modules.yaml': '{\n  "hoistedDependencies": {},\n  "layoutVersion": 5,\n  "nodeLinker": "isolated",\n  "packageManager": "pnpm@10.34.9",\n  "pendingBuilds": []\n}\n' }, 'pnpm', '10.34.9'],
    ['pnpm: node_modules/.modules.yaml (plain YAML)', PNPM, { '/app/node_modules/.modules.yaml': "hoistPattern:\n  - '*'\nlayoutVersion: 5\nnodeLinker: isolated\npackageManager: pnpm@10.34.9\npendingBuilds: []\n" }, 'pnpm', '10.34.9'],
    ['pnpm: .modules.yaml wins over the packageManager field', PNPM, { '/app/node_modules/.modules.yaml': 'packageManager: pnpm@10.34.9\n', '/app/package.json': '{"packageManager":"pnpm@9.0.0"}' }, 'pnpm', '10.34.9'],
    ['yarn berry: .yarnrc.yml yarnPath', NM, { '/app/yarn.lock': '', '/app/.yarnrc.yml': 'nodeLinker: node-modules\nyarnPath: .yarn/releases/yarn-4.18.1.cjs\n' }, 'yarn', '4.18.1'],
    ['the packageManager field, with a hash', NM, { '/app/yarn.lock': '', '/app/package.json': '{"packageManager":"yarn@4.18.1+sha512.0123abcd"}' }, 'yarn', '4.18.1'],
    ['npm with a packageManager field', NM, { '/app/package-lock.json': '', '/app/package.json': '{"packageManager":"npm@11.19.1"}' }, 'npm', '11.19.1'],
    ['no lockfile: the packageManager field names the manager too', NM, { '/app/package.json': '{"packageManager":"bun@1.4.5"}' }, 'bun', '1.4.5'],
    ['a packageManager field naming another manager than the tree is ignored', NM, { '/app/package-lock.json': '', '/app/package.json': '{"packageManager":"pnpm@10.34.9"}' }, 'npm', 'unknown'],
    ['npm: node_modules/.package-lock.json holds no npm version', NM, { '/app/node_modules/.package-lock.json': '{"lockfileVersion":3}' }, 'npm', 'unknown'],
    ['a malformed package.json', NM, { '/app/package-lock.json': '', '/app/package.json': '{nope' }, 'npm', 'unknown'],
    ['a packageManager field that is not a version', NM, { '/app/package-lock.json': '', '/app/package.json': '{"packageManager":"npm@latest"}' }, 'npm', 'unknown'],
  ])('%s → %s %s', (_name, dir, files, pm, pmVersion) => {
    expect(detectPMFromTree(dir, '/app', new MemFs(files).probes())).toEqual({ pm, pmVersion });
  });
});
