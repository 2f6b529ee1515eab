// npm run bench:runtime — the trade-off of reportInstall's delivery, measured:
// how often the first run of a program that loads a package using
// reportInstall() delivers its event, for programs that live 0, 100 and 300 ms,
// on a normal machine and as the init of a private PID namespace (a container
// whose every process dies when the program exits); and what the first call
// adds to the program's wall time. Endpoint: 127.0.0.1 with 50 ms latency.
// Writes docs/runtime-delivery.md.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = Number(process.env.RUNS ?? 20);
const work = mkdtempSync(join(tmpdir(), 'ib-runtime-delivery-'));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let received = 0;
const server = http.createServer((_req, res) => {
  received++;
  setTimeout(() => res.writeHead(204).end(), 50);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const port = server.address().port;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const env = { PATH: process.env.PATH, HOME: join(work, 'home'), NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS ?? '' };
mkdirSync(env.HOME);
try {
  // Fixture: acme-lib calls reportInstall(__filename); plain-lib does not (the control).
  execFileSync(npm, ['pack', root, '--pack-destination', work, '--ignore-scripts', '--silent'], { env: { ...process.env, ...env } });
  const pkgs = [];
  for (const [name, main] of [['acme-lib', "require('install-beacon').reportInstall(__filename);\nmodule.exports = 1;\n"], ['plain-lib', 'module.exports = 1;\n']]) {
    const dir = join(work, name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', main: 'index.js', dependencies: { 'install-beacon': '^1.0.0' }, installBeacon: { url: `http://127.0.0.1:${port}/{name}/{version}?trigger={trigger}` } }));
    writeFileSync(join(dir, 'index.js'), main);
    execFileSync(npm, ['pack', dir, '--pack-destination', work, '--silent'], { env: { ...process.env, ...env } });
    pkgs.push(join(work, `${name}-1.0.0.tgz`));
  }
  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), '{"name":"app","version":"1.0.0","private":true}');
  execFileSync(npm, ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--fetch-retries=0', '--registry=http://127.0.0.1:9/', join(work, 'install-beacon-1.0.0.tgz'), ...pkgs], { cwd: app, env: { ...process.env, ...env }, stdio: 'ignore' });

  const canUnshare = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']).status === 0;
  const run = (lib, lifeMs, namespace) =>
    new Promise((resolve) => {
      const code = `require('${lib}'); setTimeout(() => {}, ${lifeMs});`;
      const [cmd, args] = namespace ? ['unshare', ['--pid', '--fork', '--mount-proc', process.execPath, '-e', code]] : [process.execPath, ['-e', code]];
      const started = process.hrtime.bigint();
      const child = spawn(cmd, args, { cwd: app, env, stdio: 'ignore' });
      child.on('exit', () => resolve(Number(process.hrtime.bigint() - started) / 1e6));
    });

  const rows = [];
  for (const namespace of canUnshare ? [false, true] : [false]) {
    for (const lifeMs of [0, 100, 300]) {
      let delivered = 0;
      const walls = [];
      const controls = [];
      for (let i = 0; i < RUNS; i++) {
        rmSync(join(app, 'node_modules', '.install-beacon'), { recursive: true, force: true });
        const before = received;
        controls.push(await run('plain-lib', lifeMs, namespace));
        walls.push(await run('acme-lib', lifeMs, namespace));
        // Give a surviving sender time to arrive (it has 10 s; the endpoint answers in 50 ms).
        const end = Date.now() + 3000;
        while (received === before && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
        delivered += received > before ? 1 : 0;
      }
      rows.push({ where: namespace ? 'PID namespace (container teardown)' : 'normal', lifeMs, delivered, runs: RUNS, wall: median(walls), control: median(controls) });
      console.log(JSON.stringify(rows.at(-1)));
    }
  }
  if (!canUnshare) console.log('PID namespace runs skipped: unshare --pid is not available here');

  const lines = [
    '# reportInstall: delivery against program lifetime',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} by \`npm run bench:runtime\` (Node ${process.versions.node}, ${RUNS} runs per row, a fresh install marker each run, endpoint on 127.0.0.1 answering after 50 ms).`,
    'Each run is the first run of a program that loads a package calling `reportInstall(__filename)` and then lives for the given time. "wall" is the program\'s median wall time; "control" the same program loading a package without it.',
    '',
    '| where | program lives | delivered | wall (median) | control (median) |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.where} | ${r.lifeMs} ms | ${r.delivered}/${r.runs} | ${r.wall.toFixed(1)} ms | ${r.control.toFixed(1)} ms |`),
    '',
    'The first run after an install pays once for the deferred work, on the tick after the call: reading two package.json files, claiming the marker and spawning the sender (a fork and exec, slow under this sandbox\'s gVisor kernel); a program that would have exited at once waits for it, one that keeps running overlaps it. Every later run pays two stats. On a normal machine the detached sender outlives the program, so even a program that exits at once delivers. In a PID namespace every process dies with the program: a program that exits before the sender has sent loses that attempt, and its marker stays "in flight"; after 10 minutes a later run retries it (never doubling, never on every start).',
    canUnshare ? '' : '\nPID namespace rows were skipped: `unshare --pid` is not available on this machine.',
  ];
  mkdirSync(join(root, 'docs'), { recursive: true });
  writeFileSync(join(root, 'docs', 'runtime-delivery.md'), lines.join('\n') + '\n');
  console.log('wrote docs/runtime-delivery.md');
} finally {
  server.close();
  rmSync(work, { recursive: true, force: true });
}
