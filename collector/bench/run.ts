// npm run bench (in collector/): ingest throughput with durable acks as a ratio of a
// bare node:http server answering 200 in the same run, same load tool (autocannon)
// and connections; p99 latency at half the peak rate; read-query latency over
// stored-event counts; peak RSS. Prints a Markdown report (and writes .bench/results.json).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { openPostgres } from '../src/storage/postgres.js';
import { openSqlite } from '../src/storage/sqlite.js';
import type { NewEvent, Storage } from '../src/storage/types.js';
import { startBin, type Proc } from '../test/support/bin.js';
import { request } from '../test/support/http.js';
import { startPostgres, type Postgres } from '../test/support/postgres.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const CONNECTIONS = Number(args.get('connections') ?? 50);
const SECONDS = Number(args.get('seconds') ?? 10);
const SIZES = (args.get('sizes') ?? '10000,100000,1000000').split(',').map(Number);
// --only=reads skips the ingest runs; --backends=SQLite measures one database.
const ONLY = args.get('only');
const BACKENDS = (args.get('backends') ?? 'SQLite,PostgreSQL').split(',');
const TOKEN = 'bench-token-0123456789abcdef';
const work = mkdtempSync(join(tmpdir(), 'ibc-bench-'));
const env = { ...process.env, INSTALL_BEACON_TOKEN: TOKEN, DATABASE_URL: '' } as Record<string, string>;
delete env.DATABASE_URL;

interface Run { rps: number; p50: number; p99: number; non2xx: number; errors: number }

async function cannon(url: string, prefix: string, extra: Partial<autocannon.Options> = {}): Promise<Run> {
  let n = 0;
  const r = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: SECONDS,
    requests: [{ setupRequest: (req) => ({ ...req, path: `/bench-lib/1.0.0/linux/x64?ci=false&pm=npm&event_id=${prefix}-${n++}` }) }],
    ...extra,
  });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors + r.timeouts };
}

function bare(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['-e', "const s=require('node:http').createServer((q,r)=>{r.writeHead(200,{'content-length':0});r.end()});s.listen(0,'127.0.0.1',()=>console.log(s.address().port))"], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve) => child.stdout!.once('data', (d) => resolve({ child, url: `http://127.0.0.1:${String(d).trim()}` })));
}

const peakRss = (pid: number): number => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

async function queries(c: Proc, n: number): Promise<Record<string, number>> {
  const paths = { point: '/api/downloads/point/last-month/q-lib', range: '/api/downloads/range/last-year/q-lib', breakdown: '/api/breakdown/version/last-year/q-lib' };
  const out: Record<string, number> = {};
  for (const [name, path] of Object.entries(paths)) {
    const times: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t = process.hrtime.bigint();
      const r = await request(c.url, path, { headers: { authorization: `Bearer ${TOKEN}` } });
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
      if (r.status !== 200) throw new Error(`${path}: ${r.status} ${r.body}`);
    }
    times.sort((a, b) => a - b);
    out[name] = times[Math.floor(times.length * 0.95)]!;
  }
  out.total = JSON.parse((await request(c.url, '/api/downloads/point/last-year/q-lib', { headers: { authorization: `Bearer ${TOKEN}` } })).body).downloads;
  if (out.total !== n) throw new Error(`expected ${n} stored, the API says ${out.total}`);
  return out;
}

/** Seed `n` events of q-lib over the last 365 days (40 versions, 3 platforms, CI or not). */
async function seed(s: Storage, from: number, to: number): Promise<void> {
  const now = Date.now();
  for (let i = from; i < to; i += 10_000) {
    const batch: NewEvent[] = [];
    for (let j = i; j < Math.min(to, i + 10_000); j++) {
      batch.push({ package: 'q-lib', eventId: `q-${j}`, receivedAt: now - (j % 365) * 86_400_000 - (j % 1000), vars: { version: `1.${j % 40}.0`, platform: ['linux', 'darwin', 'win32'][j % 3]!, arch: 'x64', ci: j % 4 ? 'false' : 'true', pm: 'npm' } });
    }
    await s.insertBatch(batch);
  }
}

async function main(): Promise<void> {
  const report: Record<string, unknown> = { connections: CONNECTIONS, seconds: SECONDS, load: readFileSync('/proc/loadavg', 'utf8').trim() };
  let pg: Postgres | undefined;
  try {
    pg = await startPostgres();
    const b = await bare();
    const backends: Array<[string, string[]]> = [
      ['SQLite', ['--db', join(work, 'ingest.db')]],
      ['PostgreSQL', ['--database-url', await pg.createDatabase('ingest')]],
    ];
    const ingest: Record<string, unknown> = {};
    for (const [name, dbArgs] of backends) {
      if (ONLY === 'reads' || !BACKENDS.includes(name)) continue;
      // Bare server and collector measured back to back, per backend, so both see the same machine load.
      const base = await cannon(b.url, 'bare');
      const c = await startBin(['--port', '0', '--rate-limit', '0', ...dbArgs], env);
      const peak = await cannon(c.url, `${name}-peak`);
      const half = await cannon(c.url, `${name}-half`, { overallRate: Math.max(1, Math.floor(peak.rps / 2)) });
      const rss = peakRss(c.child.pid!);
      await c.stop();
      ingest[name] = { bare: base, collector: peak, ratio: peak.rps / base.rps, halfRate: half, peakRssMiB: rss };
      console.error(name, JSON.stringify(ingest[name]));
    }
    report.ingest = ingest;
    b.child.kill();

    const reads: Record<string, Record<string, unknown>> = {};
    for (const name of BACKENDS) {
      const target = name === 'SQLite' ? join(work, 'q.db') : await pg.createDatabase('q');
      const s = name === 'SQLite' ? openSqlite(target) : openPostgres(target);
      await s.migrate();
      let have = 0;
      reads[name] = {};
      for (const n of SIZES) {
        const t = Date.now();
        await seed(s, have, n);
        const seedMs = Date.now() - t;
        have = n;
        const c = await startBin(['--port', '0', ...(name === 'SQLite' ? ['--db', target] : ['--database-url', target])], env);
        reads[name]![n] = { ...(await queries(c, n)), seedSeconds: seedMs / 1000 };
        await c.stop();
        console.error(name, n, JSON.stringify(reads[name]![n]));
      }
      await s.close();
    }
    report.reads = reads;
  } finally {
    await pg?.destroy();
    rmSync(work, { recursive: true, force: true });
  }
  mkdirSync('.bench', { recursive: true });
  writeFileSync('.bench/results.json', JSON.stringify(report, null, 2));
  console.log(JSON.stringify(report, null, 2));
}

await main();
