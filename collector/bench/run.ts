// npm run bench (in collector/): ingest throughput with durable acks as a ratio of a
// bare node:http server answering 200 in the same run, same load tool (autocannon)
// and connections; p99 latency at half the peak rate; read-query latency over
// stored-event counts; peak RSS. Prints a Markdown report (and writes .bench/results.json).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fdatasyncSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import autocannon from 'autocannon';
import pg from 'pg';
import { openPostgres } from '../src/storage/postgres.js';
import { openSqlite } from '../src/storage/sqlite.js';
import type { NewEvent, Storage } from '../src/storage/types.js';
import { startBin, type Proc } from '../test/support/bin.js';
import type { MemorySample } from '../src/bench-memory.js';
import { memoryMarkdown, memoryRun, type MemoryReport } from './memory.js';
import { medianPair, paced } from './paced.js';
import { request } from '../test/support/http.js';
import { startPostgres, type Postgres } from '../test/support/postgres.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
// Ingest at each of these connection counts; the timeline and the half-rate p99 at TIMELINE_AT.
const CONNECTIONS = (args.get('connections') ?? '8,32,128').split(',').map(Number);
const TIMELINE_AT = 32;
const SECONDS = Number(args.get('seconds') ?? 10);
// The paced half-rate runs start after this much of the same load, not counted (a fresh collector warms up).
const WARMUP_SECONDS = 1;
// The memory run (RSS sampled each second at TIMELINE_AT connections); --memory-seconds=0 skips it.
const MEMORY_SECONDS = Number(args.get('memory-seconds') ?? 60);
// --malloc-arena-max=N: the memory run's collector with MALLOC_ARENA_MAX=N (glibc's malloc arenas; an experiment).
const MEMORY_ENV: Record<string, string> = args.get('malloc-arena-max') ? { MALLOC_ARENA_MAX: args.get('malloc-arena-max')! } : {};
const SIZES = (args.get('sizes') ?? '10000,100000,1000000').split(',').map(Number);
// --only=reads skips the ingest runs, --only=ingest the reads, --only=memory runs the memory run alone; --backends=SQLite measures one database.
const ONLY = args.get('only');
// POST bodies of this many events a request (a JSON array), at TIMELINE_AT connections; --post-events=0 skips them.
const POST_EVENTS = (args.get('post-events') ?? '1,10,100').split(',').map(Number).filter((n) => n > 0);
const BACKENDS = (args.get('backends') ?? 'SQLite,PostgreSQL').split(',');
// Bare server and collector, each this many 10 s runs at each connection count, alternately (--repeats=1 for one pair).
const REPEATS = Math.max(1, Number(args.get('repeats') ?? 3));
const TOKEN = 'bench-token-0123456789abcdef';
const work = mkdtempSync(join(tmpdir(), 'ibc-bench-'));
const env = { ...process.env, INSTALL_BEACON_TOKEN: TOKEN, DATABASE_URL: '' } as Record<string, string>;
delete env.DATABASE_URL;
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

interface Run { rps: number; total: number; p50: number; p99: number; non2xx: number; errors: number }

async function cannon(url: string, prefix: string, connections: number, extra: Partial<autocannon.Options> = {}): Promise<Run> {
  let n = 0;
  const r = await autocannon({
    url,
    connections,
    duration: SECONDS,
    requests: [{ setupRequest: (req) => ({ ...req, path: `/bench-lib/1.0.0/linux/x64?ci=false&pm=npm&event_id=${prefix}-${n++}` }) }],
    ...extra,
  });
  return { rps: r.requests.average, total: r.requests.total, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors + r.timeouts };
}

/** POSTs of `k` events each (one JSON array, every event its own event_id) to the route the GETs use. */
async function posts(url: string, prefix: string, k: number): Promise<Run> {
  let n = 0;
  const r = await autocannon({
    url,
    connections: TIMELINE_AT,
    duration: SECONDS,
    requests: [
      {
        setupRequest: (req) => {
          const id = n++;
          const body = JSON.stringify(Array.from({ length: k }, (_, i) => ({ event_id: `${prefix}-${id}-${i}` })));
          return { ...req, method: 'POST', path: '/bench-lib/1.0.0/linux/x64?ci=false&pm=npm', headers: { ...req.headers, 'content-type': 'application/json' }, body };
        },
      },
    ],
  });
  return { rps: r.requests.average, total: r.requests.total, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors + r.timeouts };
}

function bare(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['-e', "const s=require('node:http').createServer((q,r)=>{r.writeHead(200,{'content-length':0});r.end()});s.listen(0,'127.0.0.1',()=>console.log(s.address().port))"], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve) => child.stdout!.once('data', (d) => resolve({ child, url: `http://127.0.0.1:${String(d).trim()}` })));
}

/** Durable small writes a second on the disk the databases use: write 4 kB at one offset, fdatasync, for 2 s. */
function fsyncsPerSecond(): number {
  const fd = openSync(join(work, 'fsync-probe'), 'w');
  const block = Buffer.alloc(4096, 1);
  let n = 0;
  const end = Date.now() + 2000;
  while (Date.now() < end) {
    writeSync(fd, block, 0, block.length, 0);
    fdatasyncSync(fd);
    n++;
  }
  closeSync(fd);
  return n / 2;
}

/**
 * What a hand-off between two threads costs on this machine: a message to a worker thread and its reply
 * (MessagePort, a batch of 13 small events each way, as the collector's SQLite worker gets them), 5,000 round
 * trips one after the other with nothing else running: microseconds of wall time and of CPU (both threads, with
 * the kernel's) per round trip. Each round trip puts a thread to sleep and wakes it twice.
 */
async function threadRoundTrip(): Promise<{ wallUs: number; cpuUs: number }> {
  const w = new Worker("require('node:worker_threads').parentPort.on('message', (m) => require('node:worker_threads').parentPort.postMessage(m.length))", { eval: true });
  const batch = Array.from({ length: 13 }, (_, i) => ({ eventId: `rt-${i}`, pkg: 'bench-lib', version: '1.0.0', platform: 'linux', arch: 'x64', ci: false, pm: 'npm' }));
  const once = () => new Promise((r) => (w.once('message', r), w.postMessage(batch)));
  for (let i = 0; i < 500; i++) await once(); // warm-up
  const N = 5000;
  const [c0, t0] = [process.cpuUsage(), performance.now()];
  for (let i = 0; i < N; i++) await once();
  const [c, t] = [process.cpuUsage(c0), performance.now() - t0];
  await w.terminate();
  return { wallUs: (t * 1000) / N, cpuUs: (c.user + c.system) / N };
}

/** The PostgreSQL server's settings that bound its commits and stalls, as it reports them. */
async function postgresSettings(url: string): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ name: string; setting: string; unit: string | null }>("SELECT name, setting, unit FROM pg_settings WHERE name IN ('shared_buffers', 'max_wal_size', 'checkpoint_timeout', 'checkpoint_completion_target', 'synchronous_commit', 'fsync', 'wal_sync_method', 'autovacuum_naptime') ORDER BY name");
    return r.rows.map((x) => `${x.name}=${x.setting}${x.unit ? (/^\d/.test(x.unit) ? ` × ${x.unit}` : x.unit) : ''}`).join(', ');
  } finally {
    await c.end();
  }
}

/** Context switches (voluntary and not) of all of a process's threads so far, from /proc. */
function switches(pid: number): number {
  let n = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      for (const m of readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8').matchAll(/^(?:non)?voluntary_ctxt_switches:\s*(\d+)/gm)) n += Number(m[1]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return n;
}

interface Counts {
  commits: number;
  items: number;
  failures: number;
  stages?: Record<string, { mean: number; median: number; p99: number; n: number }>;
  /** With stages traced: the main thread's event loop and GC over the run (src/bench-memory.ts): the largest delay and pause in ms, and GC ms a second. */
  mainLoop?: { loopDelayMax: number; gcMaxMs: number; gcMsPerSecond: number };
}

/** Events per commit, from the counts the collector wrote at exit. */
const meanBatchOf = (c: Counts): number => c.items / Math.max(1, c.commits);

/** The collector as a process, with the benchmark's counts (and, `stages`, its timeline and its main thread's event-loop delay and GC pauses) written at exit. */
async function collector(dbArgs: string[], stages: boolean, sqliteOnMain = false): Promise<{ c: Proc; done(): Promise<Counts> }> {
  const file = join(work, `counts-${Date.now()}.json`);
  const memory = `${file}.memory`;
  const c = await startBin(['--port', '0', '--rate-limit', '0', '--max-connections-per-address', '0', ...dbArgs], {
    ...env,
    INSTALL_BEACON_BENCH: file,
    ...(stages ? { INSTALL_BEACON_BENCH_STAGES: '1', INSTALL_BEACON_BENCH_MEMORY: memory } : {}),
    ...(sqliteOnMain ? { INSTALL_BEACON_BENCH_SQLITE_THREAD: 'main' } : {}),
  });
  return {
    c,
    async done() {
      await c.stop();
      const counts = JSON.parse(readFileSync(file, 'utf8')) as Counts;
      if (stages) {
        // The first sample is from the start, before any load.
        const main = readFileSync(memory, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as MemorySample).filter((m) => m.thread === 'main').slice(1);
        if (main.length > 0) counts.mainLoop = { loopDelayMax: Math.max(...main.map((m) => m.loopDelayMax)), gcMaxMs: Math.max(...main.map((m) => m.gcMaxMs)), gcMsPerSecond: main.reduce((a, m) => a + m.gcMs, 0) / main.length };
      }
      return counts;
    },
  };
}

/** CPU time in ms (user + system) of a process's main thread and of all its other threads, from /proc. */
function cpu(pid: number): { main: number; others: number } {
  const out = { main: 0, others: 0 };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ms = ((Number(f[11]) + Number(f[12])) * 1000) / TICKS;
    if (tid === String(pid)) out.main += ms;
    else out.others += ms;
  }
  return out;
}
const TICKS = 100; // USER_HZ on Linux
const selfCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/**
 * CPU time in ms of a PostgreSQL cluster: the postmaster and its live children (backends, WAL writer,
 * checkpointer...: every thread of each, from /proc/<pid>/task/*\/stat), plus the children that have
 * exited and been reaped (the postmaster's cutime + cstime), so a backend that ends during a run still counts.
 */
function clusterCpu(postmaster: number): number {
  let ms = 0;
  try {
    const f = readFileSync(`/proc/${postmaster}/stat`, 'utf8');
    const x = f.slice(f.lastIndexOf(')') + 2).split(' ');
    ms += ((Number(x[13]) + Number(x[14])) * 1000) / TICKS; // cutime + cstime: reaped children
  } catch {
    return 0;
  }
  const pids = new Set([String(postmaster)]);
  for (const tid of readdirSync(`/proc/${postmaster}/task`)) {
    try {
      for (const child of readFileSync(`/proc/${postmaster}/task/${tid}/children`, 'utf8').split(' ')) if (child.trim()) pids.add(child.trim());
    } catch {
      // the thread ended meanwhile
    }
  }
  for (const pid of pids) {
    try {
      const t = cpu(Number(pid));
      ms += t.main + t.others;
    } catch {
      // the process ended meanwhile (its time moves to cutime; a race of a few ticks)
    }
  }
  return ms;
}

/**
 * A load run with the CPU time spent per request: by the load tool (this process), the server's main thread
 * and its other threads, and (`dbPid`, a PostgreSQL postmaster) the database server's processes.
 */
async function measured(pid: number, url: string, prefix: string, connections: number, extra: Partial<autocannon.Options> = {}, dbPid?: number): Promise<Run & { cpuUs: { client: number; main: number; others: number; db?: number }; switchesPerRequest: { server: number; client: number } }> {
  const [c0, s0, d0, w0, v0] = [cpu(pid), selfCpu(), dbPid ? clusterCpu(dbPid) : 0, switches(pid), switches(process.pid)];
  const r = await cannon(url, prefix, connections, extra);
  const [c1, s1, d1, w1, v1] = [cpu(pid), selfCpu(), dbPid ? clusterCpu(dbPid) : 0, switches(pid), switches(process.pid)];
  const n = Math.max(1, r.total);
  const us = (ms: number) => Math.round((ms * 1000) / n);
  return {
    ...r,
    cpuUs: { client: us(s1 - s0), main: us(c1.main - c0.main), others: us(c1.others - c0.others), ...(dbPid ? { db: us(d1 - d0) } : {}) },
    // The server's threads (the collector's, or the bare server's; not PostgreSQL's) and the load tool's, per request.
    switchesPerRequest: { server: (w1 - w0) / n, client: (v1 - v0) / n },
  };
}


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
  const report: Record<string, unknown> = { connections: CONNECTIONS, seconds: SECONDS, repeats: REPEATS, loadAtStart: load() };
  let pg: Postgres | undefined;
  try {
    // PostgreSQL's own default buffer pool (the tests' clusters run with 16 MB), and every autovacuum logged
    // (by default only those past 10 min). The last -c of a setting wins.
    pg = await startPostgres(['shared_buffers=128MB', 'log_autovacuum_min_duration=0']);
    const b = await bare();
    const backends: Array<[string, string[]]> = [
      ['SQLite', ['--db', join(work, 'ingest.db')]],
      ['PostgreSQL', ['--database-url', await pg.createDatabase('ingest')]],
    ];
    const ingest: Record<string, unknown> = {};
    const fsyncs = ONLY === 'reads' ? 0 : fsyncsPerSecond();
    report.fsyncsPerSecond = fsyncs;
    if (ONLY !== 'reads') report.threadRoundTrip = await threadRoundTrip();
    console.error(`fsync of a 4 kB write: ${fsyncs} a second (load ${load()})`);
    for (const [name, dbArgs] of backends) {
      if (ONLY === 'reads' || !BACKENDS.includes(name)) continue;
      const runs: Record<string, unknown> = {};
      for (const connections of ONLY === 'memory' ? [] : CONNECTIONS) {
        // Bare server and collector measured back to back, so both see the same machine load, REPEATS times
        // alternately (the bare server alone varies by a fifth within an hour here); the pair with the median
        // ratio is reported, with every pair's ratio beside it.
        const pairs: Array<{ ratio: number } & Record<string, unknown>> = [];
        for (let rep = 0; rep < REPEATS; rep++) {
          const before = load();
          const base = await measured(b.child.pid!, b.url, `bare-${rep}`, connections);
          const { c, done } = await collector(dbArgs, false);
          const peak = await measured(c.child.pid!, c.url, `${name}-${connections}-peak-${rep}`, connections, {}, name === 'PostgreSQL' ? pg.pid : undefined);
          const counts = await done();
          const batch = meanBatchOf(counts);
          const pair: { ratio: number } & Record<string, unknown> = { load: before, bare: base, collector: peak, ratio: peak.rps / base.rps, meanBatch: batch, commitCeiling: fsyncs * batch };
          // SQLite at TIMELINE_AT: the counterfactual right after, SQLite on the HTTP thread (no worker, so no
          // thread hand-off either way and one thread fewer wanting the two cores), against the same bare run.
          if (name === 'SQLite' && connections === TIMELINE_AT) {
            const m = await collector(dbArgs, false, true);
            const onMain = await measured(m.c.child.pid!, m.c.url, `${name}-${connections}-main-thread-${rep}`, connections);
            const mc = await m.done();
            pair.mainThread = { collector: onMain, ratio: onMain.rps / base.rps, meanBatch: meanBatchOf(mc) };
          }
          pairs.push(pair);
          console.error(name, connections, rep, JSON.stringify(pair));
        }
        const median = medianPair(pairs);
        runs[connections] = { ...median, ratios: pairs.map((x) => x.ratio), mainThreadRatios: pairs.flatMap((x) => (x.mainThread ? [(x.mainThread as { ratio: number }).ratio] : [])) };
      }
      // Memory over a longer run (memory.ts): RSS each second, each thread's heap, a forced GC after the warm-up and at the end.
      let memory: MemoryReport | undefined;
      if (MEMORY_SECONDS > 0) {
        memory = await memoryRun({ dbArgs, seconds: MEMORY_SECONDS, connections: TIMELINE_AT, env, work, extraEnv: MEMORY_ENV });
        console.error(name, 'memory', memoryMarkdown(name, memory).join('\n'));
      }
      if (ONLY === 'memory') {
        ingest[name] = { memory };
        continue;
      }
      // At TIMELINE_AT connections: the p99 at half the peak rate, then the timeline of a request (stages traced).
      // The rate is paced evenly, open loop (paced.ts: autocannon's overallRate sends in bursts at the peak and
      // records a latency-weighted p99), against the bare server (the load tool's own floor at that pacing), the
      // collector, and the collector with stages traced (its own handler-to-answer p99 beside the client's).
      // autocannon's figure at the same rate is kept for comparison with earlier runs.
      const peakRps = (runs[TIMELINE_AT] as { collector: Run } | undefined)?.collector.rps;
      let half: unknown;
      if (peakRps) {
        const rate = Math.max(1, Math.floor(peakRps / 2));
        const halfLoad = load();
        // Each measured run follows a second of the same load, not counted, on the same server: a collector just
        // started compiles its hot paths in its first requests (the bare server has served the peak runs already).
        const pacedAt = async (url: string, prefix: string) => {
          const at = (seconds: number, tag: string) => paced(url, { rate, seconds, connections: TIMELINE_AT, path: (i) => `/bench-lib/1.0.0/linux/x64?ci=false&pm=npm&event_id=${prefix}-${tag}${i}` });
          await at(WARMUP_SECONDS, 'w');
          return at(SECONDS, '');
        };
        const bareRun = await pacedAt(b.url, `${name}-half-bare`);
        let h = await collector(dbArgs, false);
        const startedAt = new Date().toISOString();
        const collectorRun = await pacedAt(h.c.url, `${name}-half`);
        await h.done();
        h = await collector(dbArgs, true);
        const tracedHalf = await pacedAt(h.c.url, `${name}-half-traced`);
        const tracedCounts = await h.done();
        const own = tracedCounts.stages?.['handler to answer (total)'];
        h = await collector(dbArgs, false);
        const autocannonRun = await cannon(h.c.url, `${name}-half-ac`, TIMELINE_AT, { overallRate: rate });
        await h.done();
        half = { rate, load: halfLoad, startedAt, bare: bareRun, collector: collectorRun, traced: { client: tracedHalf, handlerToAnswer: own, mainLoop: tracedCounts.mainLoop, meanBatch: meanBatchOf(tracedCounts) }, autocannon: autocannonRun };
        console.error(name, 'half rate', JSON.stringify(half));
      }
      const traced = await collector(dbArgs, true);
      const tracedRun = await cannon(traced.c.url, `${name}-traced`, TIMELINE_AT);
      const timeline = await traced.done();
      console.error(name, 'timeline', JSON.stringify({ run: tracedRun, ...timeline }));
      // POST bodies: requests and events a second with k events a request (issue 22 item 3).
      const post: Record<string, unknown> = {};
      for (const k of POST_EVENTS) {
        const before = load();
        const p = await collector(dbArgs, false);
        const run = await posts(p.c.url, `${name}-post${k}`, k);
        const counts = await p.done();
        post[k] = { load: before, run, eventsPerSecond: run.rps * k, stored: counts.items, sent2xx: (run.total - run.non2xx) * k, meanBatch: meanBatchOf(counts) };
        console.error(name, 'post', k, JSON.stringify(post[k]));
      }
      ingest[name] = { runs, post, halfRate: half, timeline: { run: tracedRun, meanBatch: meanBatchOf(timeline), stages: timeline.stages, mainLoop: timeline.mainLoop }, memory };
    }
    report.loadAtEnd = load();
    report.ingest = ingest;
    b.child.kill();

    const reads: Record<string, Record<string, unknown>> = {};
    for (const name of ONLY === 'ingest' || ONLY === 'memory' ? [] : BACKENDS) {
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
    // What the PostgreSQL server said of its own checkpoints and vacuums (log_checkpoints is on by default in 15, every autovacuum logged),
    // with their times, beside the half-rate run's start: a stall of the server shows up in one of them.
    // An entry's detail lines (a vacuum's timings, "system usage: CPU ...") start with a tab and stay with it.
    if (pg) {
      const kept: string[] = [];
      let keep = false;
      for (const l of pg.log().split('\n')) {
        if (!l.startsWith('\t')) keep = /checkpoint|vacuum|WARNING|ERROR|FATAL/i.test(l) && !/the database system is starting up/.test(l);
        if (keep && l.trim()) kept.push(l);
      }
      report.postgresLog = kept;
      report.postgresSettings = await postgresSettings(pg.url).catch((e: Error) => e.message);
    }
    await pg?.destroy();
    rmSync(work, { recursive: true, force: true });
  }
  mkdirSync('.bench', { recursive: true });
  writeFileSync('.bench/results.json', JSON.stringify(report, null, 2));
  console.log(markdown(report));
}

const f0 = (n: number) => Math.round(n).toLocaleString('en');
const f1 = (n: number) => (Math.round(n * 10) / 10).toString();
const f2 = (n: number) => (Math.round(n * 100) / 100).toFixed(2);

const sw = (r: { switchesPerRequest?: { server: number; client: number } }, who: 'server' | 'client' = 'server') => (r.switchesPerRequest ? f2(r.switchesPerRequest[who]) : '–');

/** The ingest part as Markdown tables (the rest is in .bench/results.json). */
function markdown(report: Record<string, any>): string {
  const out = [`load average ${report.loadAtStart} at the start, ${report.loadAtEnd} at the end; fsync of a 4 kB write: ${f0(report.fsyncsPerSecond)}/s; a round trip to a worker thread and back (13 events each way, machine otherwise idle): ${report.threadRoundTrip ? `${f1(report.threadRoundTrip.wallUs)} µs wall, ${f1(report.threadRoundTrip.cpuUs)} µs CPU` : '–'}; each connection count: ${report.repeats ?? 1} pairs of ${report.seconds} s runs, bare server then collector`, ''];
  for (const [name, r] of Object.entries<any>(report.ingest ?? {})) {
    // PostgreSQL: the database server's processes too (another process, on the same cores).
    const db = Object.values<any>(r.runs ?? {}).some((x) => x.collector.cpuUs.db !== undefined);
    out.push(`### ${name}`, '');
    if (r.runs) out.push(`| connections | load | bare req/s | collector req/s | ratio (median pair) | every pair's ratio | p99 ms | mean batch | durable-commit ceiling (fsyncs/s × batch) | non-2xx | CPU µs/request: load tool, bare | collector main thread, other threads |${db ? ' PostgreSQL server |' : ''} CPU-bound ratio | context switches/request: collector (bare), load tool |`, `|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---|---|${db ? '---:|' : ''}---:|---|`);
    // One row a run: the collector's (the median pair) and, for SQLite at TIMELINE_AT, the counterfactual's, against the same bare run.
    const row = (label: string, load: string, bare: any, run: any, ratio: string, ratios: number[], meanBatch: number) => {
      const [b, c] = [bare.cpuUs, run.cpuUs];
      // If the two cores were the only limit: requests/s scale as 1 / (client + server CPU per request), the database's included.
      const bound = (b.client + b.main + b.others) / (c.client + c.main + c.others + (c.db ?? 0));
      return `| ${label} | ${load} | ${f0(bare.rps)} | ${f0(run.rps)} | ${ratio} | ${ratios.map(f2).join(', ')} | ${run.p99} | ${f1(meanBatch)} | ${f0(report.fsyncsPerSecond * meanBatch)} events/s | ${run.non2xx + run.errors} | ${b.client}, ${b.main + b.others} | ${c.main}, ${c.others} (client ${c.client}) |${db ? ` ${c.db ?? ''} |` : ''} ${f2(bound)}× | ${sw(run)} (${sw(bare)}), ${sw(run, 'client')} |`;
    };
    for (const [n, x] of Object.entries<any>(r.runs ?? {})) {
      out.push(row(n, x.load, x.bare, x.collector, `**${f2(x.ratio)}×**`, x.ratios ?? [x.ratio], x.meanBatch));
      const m = x.mainThread;
      if (m) out.push(row(`${n}, SQLite on the HTTP thread (counterfactual, not a mode to serve in)`, '', x.bare, m.collector, `${f2(m.ratio)}×`, x.mainThreadRatios ?? [m.ratio], m.meanBatch));
    }
    if (Object.keys(r.post ?? {}).length > 0) {
      out.push('', `POST bodies at ${TIMELINE_AT} connections (a JSON array of k events a request; events stored = events committed, mean batch in events):`, '', '| k events/request | load | req/s | events/s | p99 ms | mean batch (events) | events stored | non-2xx |', '|---:|---|---:|---:|---:|---:|---:|---:|');
      for (const [k, x] of Object.entries<any>(r.post)) out.push(`| ${k} | ${x.load} | ${f0(x.run.rps)} | **${f0(x.eventsPerSecond)}** | ${x.run.p99} | ${f1(x.meanBatch)} | ${f0(x.stored)} | ${x.run.non2xx + x.run.errors} |`);
    }
    if (r.halfRate) {
      const h = r.halfRate;
      out.push(
        '',
        `p99 at half the ${TIMELINE_AT}-connection peak rate (${f0(h.rate)} req/s, evenly paced, open loop, latency from when each request was due; load ${h.load}${h.startedAt ? `; collector run started ${h.startedAt}` : ''}): **collector ${f1(h.collector.p99)} ms** (p99.9 ${f1(h.collector.p999)}, max ${f1(h.collector.max)}; from the request's write: p99 ${f1(h.collector.p99FromSend)}, max ${f1(h.collector.maxFromSend ?? 0)}; the load tool's longest pause between its 1 ms pacing ticks ${f1(h.collector.longestTickGap ?? 0)}), bare server ${f1(h.bare.p99)} ms at the same pacing (the load tool's floor; its longest pacing pause ${f1(h.bare.longestTickGap ?? 0)}); collector with stages traced ${f1(h.traced.client.p99)} ms at the client, ${h.traced.handlerToAnswer ? f1(h.traced.handlerToAnswer.p99) : '–'} ms handler to answer (its own timeline; mean batch ${f1(h.traced.meanBatch)}${h.traced.mainLoop ? `; main thread: longest event-loop delay ${f1(h.traced.mainLoop.loopDelayMax)} ms, longest GC pause ${f1(h.traced.mainLoop.gcMaxMs)} ms, ${f1(h.traced.mainLoop.gcMsPerSecond)} ms of GC a second` : ''}); non-2xx ${h.collector.non2xx + h.collector.errors}. autocannon's overallRate at the same rate (bursts, latency-weighted p99): ${h.autocannon.p99} ms`,
      );
    }
    if (r.memory) out.push('', ...memoryMarkdown(name, r.memory));
    if (!r.timeline) continue;
    out.push('', `timeline of a request at ${TIMELINE_AT} connections, stages traced (${f0(r.timeline.run.rps)} req/s, mean batch ${f1(r.timeline.meanBatch)}${r.timeline.mainLoop ? `; main thread: longest event-loop delay ${f1(r.timeline.mainLoop.loopDelayMax)} ms, longest GC pause ${f1(r.timeline.mainLoop.gcMaxMs)} ms, ${f1(r.timeline.mainLoop.gcMsPerSecond)} ms of GC a second` : ''}):`, '', '| stage | mean ms | median ms | p99 ms |', '|---|---:|---:|---:|');
    for (const [stage, x] of Object.entries<any>(r.timeline.stages ?? {})) out.push(`| ${stage} | ${x.mean.toFixed(3)} | ${x.median.toFixed(3)} | ${x.p99.toFixed(3)} |`);
    out.push('');
  }
  if (report.postgresSettings) out.push(`The PostgreSQL server's settings: ${report.postgresSettings}.`, '');
  if (report.postgresLog) {
    const lines: string[] = report.postgresLog;
    out.push(lines.length > 0 ? `The PostgreSQL server's log, its checkpoints and vacuums during the run:\n\n${lines.map((l) => `    ${l}`).join('\n')}` : "The PostgreSQL server logged no checkpoint or vacuum during the run (log_checkpoints is on, log_autovacuum_min_duration=0).", '');
  }
  return out.join('\n');
}

await main();
