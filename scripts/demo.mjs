// npm run demo: the whole story on one machine, with no network beyond 127.0.0.1.
// 1. start `install-beacon listen` (a local collector)
// 2. pack install-beacon and a sample package, acme-lib, that uses it
// 3. npm install acme-lib into a fresh project: one event arrives
// 4. `install-beacon explain` in that project
// 5. npm ci again with DO_NOT_TRACK=1: no event
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'dist/bin.cjs');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const work = mkdtempSync(join(tmpdir(), 'install-beacon-demo-'));
const step = (text) => console.log(`\n\x1b[1m== ${text}\x1b[0m`);
const lines = [];
let collector;

// Installs here must not see the caller's opt-outs or CI settings, or the demo would show nothing.
const env = { ...process.env, HOME: join(work, 'home') };
for (const k of Object.keys(env)) if (/^(DO_NOT_TRACK|SCARF_.*|INSTALL_BEACON_.*|npm_.*|INIT_CWD)$/.test(k)) delete env[k];
mkdirSync(env.HOME);

try {
  step('1. A local collector: install-beacon listen --port 0');
  collector = spawn(process.execPath, [bin, 'listen', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'], env });
  const port = await new Promise((resolve, reject) => {
    let err = '';
    collector.stderr.on('data', (d) => {
      err += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(err);
      if (m) resolve(Number(m[1]));
    });
    collector.on('exit', () => reject(new Error(`collector exited: ${err}`)));
  });
  collector.stdout.on('data', (d) => {
    for (const line of String(d).split('\n').filter(Boolean)) {
      lines.push(line);
      console.log(`   collector received: ${line}`);
    }
  });
  console.log(`   listening on 127.0.0.1:${port}`);

  step('2. Pack install-beacon and acme-lib (postinstall: "install-beacon || exit 0", as the README says)');
  const tarballs = join(work, 'tarballs');
  mkdirSync(tarballs);
  execFileSync(npm, ['pack', root, '--pack-destination', tarballs, '--ignore-scripts', '--silent'], { env });
  const acme = join(work, 'acme-lib');
  mkdirSync(acme);
  const acmePkg = {
    name: 'acme-lib',
    version: '2.3.4',
    main: 'index.js',
    scripts: { postinstall: 'install-beacon || exit 0' },
    dependencies: { 'install-beacon': '^1.0.0' },
    installBeacon: { url: `http://127.0.0.1:${port}/acme-lib/{version}/{platform}/{arch}?ci={ci}&container={container}&pm={pm}&install={install}` },
  };
  writeFileSync(join(acme, 'package.json'), JSON.stringify(acmePkg, null, 2));
  writeFileSync(join(acme, 'index.js'), 'module.exports = 42;\n');
  console.log(JSON.stringify({ scripts: acmePkg.scripts, installBeacon: acmePkg.installBeacon }, null, 2).replace(/^/gm, '   '));
  execFileSync(npm, ['pack', acme, '--pack-destination', tarballs, '--silent'], { env });
  const files = readdirSync(tarballs).map((f) => join(tarballs, f));

  step('3. npm install acme-lib into a fresh project');
  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'my-app', version: '1.0.0', private: true }, null, 2));
  const npmFlags = ['--no-audit', '--no-fund', '--prefer-offline', '--fetch-retries=0', '--registry=http://127.0.0.1:9/', '--loglevel=error', '--foreground-scripts'];
  execFileSync(npm, ['install', ...npmFlags, ...files], { cwd: app, env, stdio: 'inherit' });
  const waitFor = async (n, ms) => {
    const end = Date.now() + ms;
    while (lines.length < n && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  };
  await waitFor(1, 10_000);
  console.log(`   events received: ${lines.length}`);

  step('4. npx install-beacon explain (what an install here sends, and why)');
  execFileSync(npm, ['exec', '--offline', '--', 'install-beacon', 'explain'], { cwd: app, env, stdio: 'inherit' });

  step('5. npm ci with DO_NOT_TRACK=1: a fresh install, opted out');
  const before = lines.length;
  execFileSync(npm, ['ci', ...npmFlags], { cwd: app, env: { ...env, DO_NOT_TRACK: '1' }, stdio: 'inherit' });
  await new Promise((r) => setTimeout(r, 1000));
  console.log(`   events received during the opted-out install: ${lines.length - before}`);

  const ok = before === 1 && lines.length === 1;
  step(ok ? 'Done: one event for the install, none for the opted-out one.' : `Unexpected: ${lines.length} events in all (expected 1)`);
  process.exitCode = ok ? 0 : 1;
} finally {
  collector?.kill();
  rmSync(work, { recursive: true, force: true });
}

// ==== Collector step (install-beacon-collector, collector/): the event stored and read back ====
// Self-contained: its own temp dir, collector process and install, so the steps above can change freely.
{
  const cwork = mkdtempSync(join(tmpdir(), 'install-beacon-demo-collector-'));
  const cenv = { ...env, HOME: join(cwork, 'home'), INSTALL_BEACON_TOKEN: 'demo-token-0123456789abcdef' };
  delete cenv.DATABASE_URL;
  mkdirSync(cenv.HOME);
  let server;
  try {
    step('6. The durable collector: install-beacon-collector --port 0 --db <temp>/events.db');
    server = spawn(process.execPath, [join(root, 'collector/dist/bin.cjs'), '--port', '0', '--db', join(cwork, 'events.db')], { stdio: ['ignore', 'pipe', 'pipe'], env: cenv });
    const out = [];
    await new Promise((resolve, reject) => {
      let buf = '';
      server.stdout.on('data', (d) => {
        buf += d;
        const parts = buf.split('\n');
        buf = parts.pop();
        out.push(...parts);
        if (out.some((l) => l.startsWith('dashboard: '))) resolve();
      });
      server.on('exit', (code) => reject(new Error(`the collector exited (${code})`)));
    });
    for (const line of out) console.log(`   ${line}`);
    const base = /listening on (\S+)$/.exec(out[0])[1];
    const route = out.find((l) => l.trim().startsWith(`${base}/`)).trim();

    step('7. acme-lib with installBeacon.url = the route the collector printed; npm install it');
    const tarballs = join(cwork, 'tarballs');
    mkdirSync(tarballs);
    execFileSync(npm, ['pack', root, '--pack-destination', tarballs, '--ignore-scripts', '--silent'], { env: cenv });
    const acme = join(cwork, 'acme-lib');
    mkdirSync(acme);
    const pkg = { name: 'acme-lib', version: '2.3.4', main: 'index.js', scripts: { postinstall: 'install-beacon || exit 0' }, dependencies: { 'install-beacon': '^1.0.0' }, installBeacon: { url: route } };
    writeFileSync(join(acme, 'package.json'), JSON.stringify(pkg, null, 2));
    writeFileSync(join(acme, 'index.js'), 'module.exports = 42;\n');
    console.log(`   "installBeacon": ${JSON.stringify(pkg.installBeacon)}`);
    execFileSync(npm, ['pack', acme, '--pack-destination', tarballs, '--silent'], { env: cenv });
    const app = join(cwork, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'my-app', version: '1.0.0', private: true }, null, 2));
    const flags = ['--no-audit', '--no-fund', '--prefer-offline', '--fetch-retries=0', '--registry=http://127.0.0.1:9/', '--loglevel=error'];
    execFileSync(npm, ['install', ...flags, ...readdirSync(tarballs).map((f) => join(tarballs, f))], { cwd: app, env: cenv, stdio: 'inherit' });

    step('8. Read it back from the API (Authorization: Bearer <token>)');
    const headers = { authorization: `Bearer ${cenv.INSTALL_BEACON_TOKEN}` };
    const api = async (path) => (await fetch(`${base}${path}`, { headers })).json();
    let point;
    for (const end = Date.now() + 15_000; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
      point = await api('/api/downloads/point/last-day/acme-lib');
      if (point.downloads >= 1) break;
    }
    console.log(`   GET /api/downloads/point/last-day/acme-lib  -> ${JSON.stringify(point)}`);
    console.log(`   GET /api/versions/acme-lib/last-week         -> ${JSON.stringify(await api('/api/versions/acme-lib/last-week'))}`);
    console.log(`   GET /api/breakdown/pm/last-week/acme-lib     -> ${JSON.stringify((await api('/api/breakdown/pm/last-week/acme-lib')).counts)}`);
    console.log(`   GET /badge/acme-lib.json                     -> ${JSON.stringify(await api('/badge/acme-lib.json'))}`);
    const stored = point?.downloads === 1;
    step(stored ? 'Done: the install is stored in the collector and counted by its API.' : `Unexpected: the collector counted ${point?.downloads} installs (expected 1)`);
    if (!stored) process.exitCode = 1;
    // The dashboard of the events just sent. In a terminal the collector keeps serving it until Ctrl-C;
    // elsewhere (CI, a pipe) the demo ends here and the collector stops with it.
    const dashboard = out.find((l) => l.startsWith('dashboard: ')).slice('dashboard: '.length);
    const interactive = process.stdin.isTTY && process.stdout.isTTY;
    console.log(`\nThe dashboard for these events${interactive ? ' (open it in a browser; Ctrl-C stops the collector)' : ' (the collector stops as the demo ends; in a terminal it keeps serving until Ctrl-C)'}:\n${dashboard}\n(the demo's read token, made up for this run: ${cenv.INSTALL_BEACON_TOKEN})`);
    if (interactive) await new Promise((resolve) => process.once('SIGINT', resolve));
  } catch (e) {
    console.error(`   collector step failed: ${e.message}`);
    process.exitCode = 1;
  } finally {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    rmSync(cwork, { recursive: true, force: true });
  }
}
