// The memory part of the benchmark (issue 22: "memory flat over a 60 s run"): the built collector under
// steady closed-loop ingest for `seconds`, sampled each second from outside (/proc: RSS, its anonymous,
// file-backed and shared parts, the SQLite -shm mapping) and from inside (INSTALL_BEACON_BENCH_MEMORY,
// src/bench-memory.ts: each thread's own V8 heap). A full GC (NODE_OPTIONS=--expose-gc) is asked for once
// after the warm-up and once after the load, so the heap still reachable is compared at both ends: what a
// request leaves behind, in bytes, is (heap after GC at the end - after the warm-up) / requests between.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import autocannon from 'autocannon';
import type { MemorySample } from '../src/bench-memory.js';
import { startBin } from '../test/support/bin.js';

export const WARM_UP_S = 10;
const MiB = 1024 * 1024;

export interface ProcSample {
  /** seconds since the load started */
  s: number;
  rss: number;
  anon: number;
  file: number;
  shmem: number;
  /** the Rss of the SQLite files mapped (the WAL index, `-shm`) */
  sqliteMapped: number;
  /** requests answered so far */
  requests: number;
}

export interface MemoryReport {
  seconds: number;
  connections: number;
  env: Record<string, string>;
  rps: number;
  requests: number;
  non2xx: number;
  load: { start: string; end: string };
  /** MiB */
  rssAtWarmUp: number;
  rssAtEnd: number;
  rssMax: number;
  /** MiB per minute, least squares over the samples after the warm-up; and over the last half only (a plateau has ~0 there). */
  rssSlope: number;
  rssSlopeLastHalf: number;
  /** Per thread: heapUsed (MiB) after a full GC after the warm-up and after the load, and the bytes a request left reachable. */
  heapAfterGc: Record<string, { warmUp?: number; end?: number; bytesPerRequest?: number }>;
  /** Per thread: heapUsed, heapTotal, external, arrayBuffers (MiB) at the warm-up and at the end of the load (no forced GC). */
  threads: Record<string, { atWarmUp: Partial<MemorySample>; atEnd: Partial<MemorySample> }>;
  proc: ProcSample[];
  inside: MemorySample[];
}

/** Least-squares slope of y over x. */
export function slope(points: ReadonlyArray<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

function procSample(pid: number): Omit<ProcSample, 's' | 'requests'> {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  let sqliteMapped = 0;
  try {
    // Each mapping's header line, then its fields; sum the Rss of the mappings whose path ends in -shm.
    let inShm = false;
    for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
      if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inShm = line.endsWith('-shm');
      else if (inShm && line.startsWith('Rss:')) sqliteMapped += Number(/(\d+)/.exec(line)![1]) * 1024;
    }
  } catch {
    // smaps unreadable (another kernel's rules): the -shm column stays 0
  }
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'), shmem: kb('RssShmem'), sqliteMapped };
}

const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One forced full GC in every sampling thread: the trigger file exists for a little over one sampling period. */
async function forceGc(file: string): Promise<void> {
  writeFileSync(`${file}.gc`, '');
  await sleep(1300);
  rmSync(`${file}.gc`, { force: true });
  await sleep(100);
}

const readInside = (file: string): MemorySample[] => {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as MemorySample);
  } catch {
    return [];
  }
};

export async function memoryRun(o: { dbArgs: string[]; seconds: number; connections: number; env: Record<string, string>; work: string; extraEnv?: Record<string, string> }): Promise<MemoryReport> {
  const counts = `${o.work}/mem-counts-${Date.now()}.json`;
  const inside = `${o.work}/mem-samples-${Date.now()}.jsonl`;
  const extraEnv = o.extraEnv ?? {};
  const env = { ...o.env, ...extraEnv, INSTALL_BEACON_BENCH: counts, INSTALL_BEACON_BENCH_MEMORY: inside, NODE_OPTIONS: [o.env.NODE_OPTIONS, '--expose-gc'].filter(Boolean).join(' ') };
  const c = await startBin(['--port', '0', '--rate-limit', '0', '--max-connections-per-address', '0', ...o.dbArgs], env);
  const pid = c.child.pid!;
  const loadStart = load();
  // Requests sent so far (the answered ones lag by at most `connections`).
  let n = 0;
  const answered = () => n;
  const proc: ProcSample[] = [];
  const t0 = Date.now();
  const every = setInterval(() => proc.push({ s: (Date.now() - t0) / 1000, requests: answered(), ...procSample(pid) }), 1000);
  let gcAtWarmUp: { t: number; requests: number } | undefined;
  const warm = setTimeout(() => {
    gcAtWarmUp = { t: Date.now(), requests: answered() };
    void forceGc(inside);
  }, WARM_UP_S * 1000);
  const r = await autocannon({
    url: c.url,
    connections: o.connections,
    duration: o.seconds,
    requests: [{ setupRequest: (req) => ({ ...req, path: `/bench-lib/1.0.0/linux/x64?ci=false&pm=npm&event_id=mem-${t0}-${n++}` }) }],
  });
  clearInterval(every);
  clearTimeout(warm);
  const endProc = procSample(pid);
  const loadEnd = load();
  const endT = Date.now();
  const endRequests = answered();
  await forceGc(inside);
  await c.stop();
  const samples = readInside(inside);

  const mib = (b: number) => b / MiB;
  const after = proc.filter((p) => p.s >= WARM_UP_S);
  const lastHalf = proc.filter((p) => p.s >= o.seconds / 2);
  const perMinute = (ps: ProcSample[]) => slope(ps.map((p) => [p.s / 60, mib(p.rss)]));
  const threads = [...new Set(samples.map((s) => s.thread))];
  const heapAfterGc: MemoryReport['heapAfterGc'] = {};
  const atThread: MemoryReport['threads'] = {};
  const parts = (s: MemorySample | undefined) => (s ? { heapUsed: mib(s.heapUsed), heapTotal: mib(s.heapTotal), external: mib(s.external), arrayBuffers: mib(s.arrayBuffers) } : {});
  for (const th of threads) {
    const mine = samples.filter((s) => s.thread === th);
    const gcs = mine.filter((s) => s.gc);
    const w = gcAtWarmUp && gcs.find((s) => s.t >= gcAtWarmUp!.t && s.t < endT);
    const e = gcs.find((s) => s.t >= endT);
    const bytesPerRequest = w && e && gcAtWarmUp ? (e.heapUsed - w.heapUsed) / Math.max(1, endRequests - gcAtWarmUp.requests) : undefined;
    heapAfterGc[th] = { warmUp: w && mib(w.heapUsed), end: e && mib(e.heapUsed), bytesPerRequest };
    const plain = mine.filter((s) => !s.gc);
    atThread[th] = {
      atWarmUp: parts(plain.find((s) => s.t >= t0 + WARM_UP_S * 1000 - 1000)),
      atEnd: parts([...plain].reverse().find((s) => s.t <= endT)),
    };
  }
  const atWarm = proc.find((p) => p.s >= WARM_UP_S) ?? proc[0];
  return {
    seconds: o.seconds,
    connections: o.connections,
    env: extraEnv,
    rps: r.requests.average,
    requests: r.requests.total,
    non2xx: r.non2xx + r.errors + r.timeouts,
    load: { start: loadStart, end: loadEnd },
    rssAtWarmUp: mib(atWarm?.rss ?? 0),
    rssAtEnd: mib(endProc.rss),
    rssMax: mib(Math.max(...proc.map((p) => p.rss), endProc.rss)),
    rssSlope: perMinute(after),
    rssSlopeLastHalf: perMinute(lastHalf),
    heapAfterGc,
    threads: atThread,
    proc,
    inside: samples,
  };
}

const f1 = (n: number | undefined) => (n === undefined ? '–' : (Math.round(n * 10) / 10).toString());

/** The memory run as Markdown lines. */
export function memoryMarkdown(name: string, m: MemoryReport): string[] {
  const out = [
    `memory over ${m.seconds} s at ${m.connections} connections${Object.keys(m.env).length ? ` (${Object.entries(m.env).map(([k, v]) => `${k}=${v}`).join(' ')})` : ''}, ${name}: ${Math.round(m.rps).toLocaleString('en')} req/s, ${m.requests.toLocaleString('en')} requests, non-2xx ${m.non2xx}; load ${m.load.start} at the start, ${m.load.end} at the end`,
    '',
    `- RSS **${f1(m.rssAtWarmUp)} MiB after the ${WARM_UP_S} s warm-up, ${f1(m.rssAtEnd)} MiB at the end** (${f1(m.rssMax)} at most); slope after the warm-up **${f1(m.rssSlope)} MiB/min**, over the last half ${f1(m.rssSlopeLastHalf)} MiB/min`,
  ];
  for (const [th, h] of Object.entries(m.heapAfterGc)) {
    const t = m.threads[th]!;
    out.push(
      `- ${th}: heapUsed after a forced GC **${f1(h.warmUp)} MiB after the warm-up, ${f1(h.end)} MiB after the load** (${h.bytesPerRequest === undefined ? '–' : f1(h.bytesPerRequest)} bytes kept per request); without GC, at the warm-up / end: heapUsed ${f1(t.atWarmUp.heapUsed)} / ${f1(t.atEnd.heapUsed)}, heapTotal ${f1(t.atWarmUp.heapTotal)} / ${f1(t.atEnd.heapTotal)}, external ${f1(t.atWarmUp.external)} / ${f1(t.atEnd.external)}, arrayBuffers ${f1(t.atWarmUp.arrayBuffers)} / ${f1(t.atEnd.arrayBuffers)} MiB`,
    );
  }
  const last = m.proc[m.proc.length - 1];
  if (last) out.push(`- RSS parts at the end: anonymous ${f1(last.anon / MiB)}, file-backed ${f1(last.file / MiB)}, shared ${f1(last.shmem / MiB)} MiB (of it the SQLite WAL index, -shm, ${Math.round(last.sqliteMapped / 1024)} KiB)`);
  return out;
}
