import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { detectPMFromTree } from '../src/context.js';
import { startCollector, type Collector } from './support/collector.js';
import { MemFs } from './support/memfs.js';
import { baseEnv, ROOT, run, runBin, sendersDone, TempDirs } from './support/process.js';

// {pm_version} without a user agent (reportInstall, explain): from what the tree records.
// And from every source only a plain version leaves the machine (issue 19 item 12).

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
    // Issue 19 item 12: free text after the version is never sent.
    ['a packageManager pin with free text after the version', NM, { '/app/package-lock.json': '', '/app/package.json': '{"packageManager":"npm@11.19.1-my-secret-project.alice-laptop"}' }, 'npm', 'unknown'],
    ['a yarnPath release named with free text', NM, { '/app/yarn.lock': '', '/app/.yarnrc.yml': 'yarnPath: .yarn/releases/yarn-4.18.1-acmecorp-build-host-ci07.cjs\n' }, 'yarn', 'unknown'],
    ['pnpm .modules.yaml with free text', PNPM, { '/app/node_modules/.modules.yaml': 'packageManager: pnpm@10.34.9-alice.laptop\n' }, 'pnpm', 'unknown'],
  ])('%s → %s %s', (_name, dir, files, pm, pmVersion) => {
    expect(detectPMFromTree(dir, '/app', new MemFs(files).probes())).toEqual({ pm, pmVersion });
  });
});

describe('a real hook and a real reportInstall send "unknown" for a version with free text', () => {
  const temps = new TempDirs();
  let collector: Collector;
  let app: string;
  let pkgDir: string;
  let home: string;
  beforeAll(async () => {
    collector = await startCollector();
  });
  afterAll(async () => {
    await collector.close();
    temps.cleanup();
  });
  beforeEach(() => {
    collector.requests.length = 0;
    const root = temps.make('ib-pmv-');
    app = join(root, 'app');
    pkgDir = join(app, 'node_modules', 'acme-lib');
    home = join(root, 'home');
    mkdirSync(pkgDir, { recursive: true });
    mkdirSync(home);
    writeFileSync(join(pkgDir, 'package.json'), JSON.stringify({ name: 'acme-lib', version: '2.3.4', main: 'index.js', installBeacon: { url: `${collector.base}/{name}?pm={pm}&pm_version={pm_version}&trigger={trigger}`, delivery: 'inline' } }));
    writeFileSync(join(pkgDir, 'index.js'), `require(${JSON.stringify(join(ROOT, 'dist', 'index.cjs'))}).reportInstall(__filename);\n`);
  });

  it('the postinstall hook, its user agent from the environment', async () => {
    const r = await runBin([], { cwd: pkgDir, env: baseEnv(home, { INIT_CWD: app, npm_lifecycle_event: 'postinstall', npm_config_user_agent: 'npm/11.19.1-my-secret-project.alice-laptop node/v20.20.2 linux x64 workspaces/false' }) });
    expect(r.code, r.stderr).toBe(0);
    expect(collector.requests.map((q) => q.query)).toEqual([{ pm: 'npm', pm_version: 'unknown', trigger: 'postinstall' }]);
  });

  it.each([
    ['the project\'s packageManager pin', { 'package.json': JSON.stringify({ name: 'app', packageManager: 'npm@11.19.1-my-secret-project.alice-laptop' }), 'package-lock.json': '{}' }, 'npm'],
    ['a yarnPath release', { 'package.json': '{"name":"app"}', 'yarn.lock': '', '.yarnrc.yml': 'yarnPath: .yarn/releases/yarn-4.18.1-acmecorp-build-host-ci07.cjs\n' }, 'yarn'],
  ])('reportInstall, the version from %s', async (_what, files, pm) => {
    for (const [file, text] of Object.entries(files)) writeFileSync(join(app, file), text);
    const r = await run(process.execPath, ['-e', "require('acme-lib')"], { cwd: app, env: baseEnv(home) });
    expect(r.code, r.stderr).toBe(0);
    await collector.waitFor(1, 10_000);
    await sendersDone(String(collector.port));
    expect(collector.requests.map((q) => q.query)).toEqual([{ pm, pm_version: 'unknown', trigger: 'runtime' }]);
  });
});
