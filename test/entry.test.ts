import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from './support/collector.js';
import { NPM, npmLocal, packAcme, packBeacon, REPORTING_MAIN, writeProject } from './support/fixture.js';
import { oldNode } from './support/old-node.js';
import { baseEnv, ROOT, run, TempDirs } from './support/process.js';

// The library entry as users get it: install-beacon packed by `npm pack`,
// installed by a real `npm install`, loaded by real Node processes.
//   - on every Node that `engines` admits (>=12), require and import load, and do nothing below 18;
//   - an app or a package bundled to CommonJS by esbuild runs, and a bundled package still reports;
//   - the packed package's types describe exactly what each entry exports (publint, attw, tsc node16).

const temps = new TempDirs();
let collector: Collector;
let tarballs: string;
let beacon: string;
let acme: string;
let home: string;

beforeAll(async () => {
  collector = await startCollector();
  tarballs = temps.make('ib-entry-tarballs-');
  home = temps.make('ib-entry-home-');
  beacon = packBeacon(tarballs);
  acme = packAcme(tarballs, {
    postinstall: 'exit 0', // the runtime trigger is under test, not the hook
    installBeacon: { url: `${collector.base}/{name}/{version}?trigger={trigger}&node={node}` },
    main: REPORTING_MAIN,
  });
}, 120_000);
afterAll(async () => {
  await collector.close();
  temps.cleanup();
});
beforeEach(() => {
  collector.requests.length = 0;
});

const env = (extra: Record<string, string | undefined> = {}) => baseEnv(home, { npm_config_cache: join(home, 'npm-cache'), ...extra });

async function installed(...packages: string[]): Promise<string> {
  const app = join(temps.make('ib-entry-app-'), 'app');
  writeProject(app);
  const r = await npmLocal(app, ['install', '--ignore-scripts', beacon, ...packages], home);
  expect(r.code, r.stderr).toBe(0);
  return app;
}

/** Every file under `dirs` with its size and mtime: a process that wrote nothing leaves this unchanged. */
function snapshot(...dirs: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else {
        const s = statSync(path);
        out.push(`${relative('/', path)} ${s.size} ${s.mtimeMs}`);
      }
    }
  };
  for (const dir of dirs) walk(dir);
  return out.sort();
}

// 12.0.0 is the oldest Node `engines` admits; ESM without a flag starts at 12.17.
const OLD = [
  { version: '12.0.0', esm: false },
  { version: '12.22.12', esm: true },
  { version: '14.21.3', esm: true },
  { version: '16.20.2', esm: true },
].map((v) => ({ ...v, ...oldNode(v.version) }));

// Node 12 prints this once for any ES module; it is Node's line, not ours.
const ESM_WARNING = /^\(node:\d+\) ExperimentalWarning: The ESM module loader is experimental\.\n$/;

describe('the library entry on Node older than 18', () => {
  let app: string;
  let before: string[];

  beforeAll(async () => {
    app = await installed(acme);
    // An app module importing install-beacon's ESM entry, reporting for acme-lib by a file: URL.
    writeFileSync(join(app, 'main.mjs'), "import { reportInstall } from 'install-beacon';\nreportInstall(new URL('./node_modules/acme-lib/index.js', import.meta.url));\n");
    before = snapshot(app, home);
  }, 120_000);

  for (const node of OLD) {
    it(`Node ${node.version}: require ${node.esm ? 'and import load' : 'loads'}, exit 0, print nothing`, async () => {
      expect(node.why, 'old Node binary').toBeUndefined();
      const cjs = await run(node.path!, ['-e', "require('acme-lib'); require('install-beacon').reportInstall(require.resolve('acme-lib'))"], { cwd: app, env: env(), timeoutMs: 30_000 });
      expect(cjs).toMatchObject({ code: 0, signal: null, stdout: '', stderr: '' });
      if (node.esm) {
        const esm = await run(node.path!, ['main.mjs'], { cwd: app, env: env(), timeoutMs: 30_000 });
        expect(esm).toMatchObject({ code: 0, signal: null, stdout: '' });
        expect(esm.stderr.replace(ESM_WARNING, '')).toBe('');
      }
    });
  }

  it('none of those runs wrote a file; the same app on this Node sends the one event', async () => {
    expect(snapshot(app, home)).toEqual(before);
    const r = await run(process.execPath, ['main.mjs'], { cwd: app, env: env(), timeoutMs: 30_000 });
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' });
    await collector.waitFor(1);
    // Had an old Node claimed the install, this run would have found it reported and sent nothing.
    expect(collector.requests.map((q) => [q.path, q.query.node])).toEqual([['/acme-lib/2.3.4', process.versions.node]]);
  });
});

describe('bundled to CommonJS by esbuild', () => {
  it('an app bundling its dependencies (install-beacon included) runs', async () => {
    const app = await installed(acme);
    writeFileSync(join(app, 'src.mjs'), "import { reportInstall } from 'install-beacon';\nimport acme from 'acme-lib';\nreportInstall(import.meta.url);\nconsole.log('ran', acme);\n");
    await build({ entryPoints: [join(app, 'src.mjs')], bundle: true, platform: 'node', format: 'cjs', outfile: join(app, 'out/app.cjs'), logLevel: 'silent' });
    expect(readFileSync(join(app, 'out/app.cjs'), 'utf8')).not.toContain('createRequire');
    const r = await run(process.execPath, [join(app, 'out/app.cjs')], { cwd: app, env: env(), timeoutMs: 30_000 });
    expect(r).toMatchObject({ code: 0, stdout: 'ran 42\n', stderr: '' });
  });

  it('a package that bundles install-beacon into its own CommonJS file still reports, once', async () => {
    // The author's build: ESM source importing install-beacon, bundled to dist/index.cjs.
    const author = join(temps.make('ib-entry-author-'), 'acme-bundled');
    writeProject(author, {
      name: 'acme-bundled', version: '3.0.0', private: false, main: 'dist/index.cjs', files: ['dist'],
      dependencies: { 'install-beacon': '^1.0.0' },
      installBeacon: { url: `${collector.base}/{name}/{version}?trigger={trigger}` },
    });
    expect((await npmLocal(author, ['install', '--ignore-scripts', '--no-save', beacon], home)).code).toBe(0);
    writeFileSync(join(author, 'src.mjs'), "import { reportInstall } from 'install-beacon';\nreportInstall(__filename);\nexport default 42;\n");
    await build({ entryPoints: [join(author, 'src.mjs')], bundle: true, platform: 'node', format: 'cjs', outfile: join(author, 'dist/index.cjs'), logLevel: 'silent' });
    const out = execFileSync(NPM, ['pack', author, '--pack-destination', tarballs, '--silent'], { encoding: 'utf8' });
    const bundled = join(tarballs, out.trim().split('\n').pop()!.trim());

    const app = await installed(bundled);
    const r = await run(process.execPath, ['-e', "console.log(require('acme-bundled').default)"], { cwd: app, env: env(), timeoutMs: 30_000 });
    expect(r).toMatchObject({ code: 0, stdout: '42\n', stderr: '' });
    await collector.waitFor(1);
    expect(collector.requests.map((q) => [q.path, q.query.trigger])).toEqual([['/acme-bundled/3.0.0', 'runtime']]);
  });
});

describe("the packed package's entries and types", () => {
  const tool = (name: string, bin: string) => join(ROOT, 'node_modules', name, bin);

  it('publint (strict, suggestions included) finds nothing', async () => {
    const r = await run(process.execPath, [tool('publint', 'src/cli.js'), 'run', beacon, '--strict', '--level', 'suggestion'], { env: env(), timeoutMs: 60_000 });
    expect(r.stdout).toContain('All good!');
    expect(r.code).toBe(0);
  });

  it('@arethetypeswrong/cli finds no problem in any resolution mode', async () => {
    const r = await run(process.execPath, [tool('@arethetypeswrong/cli', 'dist/index.js'), beacon, '--format', 'json'], { env: env(), timeoutMs: 60_000 });
    const report = JSON.parse(r.stdout) as { analysis: { problems: unknown[]; entrypoints: Record<string, unknown> } };
    expect(report.analysis.problems).toEqual([]);
    expect(Object.keys(report.analysis.entrypoints)).toEqual(['.', './package.json']);
    expect(r.code).toBe(0);
  });

  it('TypeScript compiles a .cts and an .mts consumer under module node16, nodenext and bundler', async () => {
    const app = await installed();
    writeFileSync(join(app, 'use.cts'), "import { reportInstall } from 'install-beacon';\nreportInstall(__filename);\n");
    writeFileSync(join(app, 'use.mts'), "import { reportInstall } from 'install-beacon';\nreportInstall(import.meta.url);\nreportInstall(new URL(import.meta.url));\n");
    for (const [module, moduleResolution] of [['node16', 'node16'], ['nodenext', 'nodenext'], ['esnext', 'bundler']]) {
      const files = moduleResolution === 'bundler' ? ['use.mts'] : ['use.cts', 'use.mts'];
      writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
        compilerOptions: { module, moduleResolution, target: 'es2022', strict: true, noEmit: true, skipLibCheck: false, types: ['node'], typeRoots: [join(ROOT, 'node_modules/@types')] },
        files,
      }));
      const r = await run(process.execPath, [tool('typescript', 'bin/tsc'), '-p', app], { cwd: app, env: env(), timeoutMs: 60_000 });
      expect({ module, out: r.stdout }).toEqual({ module, out: '' });
      expect(r.code).toBe(0);
    }
  });

  it('require, import and the browser build export exactly what the declarations declare', async () => {
    const app = await installed();
    const pkg = join(app, 'node_modules/install-beacon');
    const declared = (file: string) => [...readFileSync(join(pkg, file), 'utf8').matchAll(/^export declare (?:function|const) (\w+)/gm)].map((m) => m[1]).sort();
    expect(declared('dist/index.d.cts')).toEqual(['reportInstall']);
    expect(declared('dist/index.d.mts')).toEqual(['reportInstall']);
    const keys = async (code: string, input = false) => {
      const r = await run(process.execPath, input ? ['--input-type=module', '-e', code] : ['-e', code], { cwd: app, env: env(), timeoutMs: 30_000 });
      expect(r.stderr).toBe('');
      return JSON.parse(r.stdout) as string[];
    };
    expect(await keys("console.log(JSON.stringify(Object.keys(require('install-beacon')).sort()))")).toEqual(['reportInstall']);
    expect(await keys("const m = await import('install-beacon'); console.log(JSON.stringify(Object.keys(m).filter((k) => k !== 'default').sort()))", true)).toEqual(['reportInstall']);
    const browser = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')).exports['.'].browser.default as string;
    expect(await keys(`import(${JSON.stringify(join(pkg, browser))}).then((m) => console.log(JSON.stringify(Object.keys(m).sort())))`)).toEqual(['reportInstall']);

    // A browser bundle resolves the browser build and pulls in no Node module.
    mkdirSync(join(app, 'web'));
    writeFileSync(join(app, 'web/main.js'), "import { reportInstall } from 'install-beacon';\nreportInstall(import.meta.url);\n");
    const out = await build({ entryPoints: [join(app, 'web/main.js')], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent' });
    expect(out.errors).toEqual([]);
    expect(out.outputFiles[0]!.text).not.toMatch(/require\(|child_process|node:/);
    // Edge runtimes (Cloudflare's workerd, Vercel's edge-light) get the same no-op, even where they
    // emulate a `process` with versions.node (workerd's nodejs_compat), from a bundler that sets
    // only their own condition (wrangler and Next.js also set "browser").
    for (const condition of ['workerd', 'edge-light']) {
      const edge = await build({ entryPoints: [join(app, 'web/main.js')], bundle: true, platform: 'neutral', conditions: [condition], mainFields: ['module', 'main'], format: 'esm', write: false, logLevel: 'silent' });
      expect({ condition, errors: edge.errors }).toEqual({ condition, errors: [] });
      expect({ condition, text: edge.outputFiles[0]!.text }).not.toMatchObject({ text: expect.stringMatching(/require\(|child_process|node:|process/) });
    }
  });
});
