// The p99 at half the peak rate, three ways, against the bare server and the collector in one run
// (issue 22 item 4): autocannon's overallRate as recorded (its coordinated-omission correction on),
// autocannon's overallRate with ignoreCoordinatedOmission, and the open-loop paced load (paced.ts); for the
// collector also its own handler-to-answer p99 from the stage timeline (INSTALL_BEACON_BENCH_STAGES=1).
// `vite-node bench/halfrate.ts -- --backends=SQLite,PostgreSQL --seconds=10` (after `npm run build`).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { startBin } from '../test/support/bin.js';
import { startPostgres } from '../test/support/postgres.js';
import { paced } from './paced.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const SECONDS = Number(args.get('seconds') ?? 10);
const CONNECTIONS = 32;
const BACKENDS = (args.get('backends') ?? 'SQLite,PostgreSQL').split(',');
const ROUNDS = Number(args.get('rounds') ?? 2);
const work = mkdtempSync(join(tmpdir(), 'ibc-half-'));
const env = { ...process.env, INSTALL_BEACON_TOKEN: 'bench-token-0123456789abcdef' } as Record<string, string>;
delete env.DATABASE_URL;
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
let seq = 0;
const path = (prefix: string) => (i: number) => `/bench-lib/1.0.0/linux/x64?ci=false&pm=npm&event_id=${prefix}-${i}`;

function bare(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['-e', "const s=require('node:http').createServer((q,r)=>{r.writeHead(200,{'content-length':0});r.end()});s.listen(0,'127.0.0.1',()=>console.log(s.address().port))"], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve) => child.stdout!.once('data', (d) => resolve({ child, url: `http://127.0.0.1:${String(d).trim()}` })));
}

async function cannon(url: string, extra: Partial<autocannon.Options> = {}) {
  const prefix = `h${seq++}-${Date.now()}`;
  let n = 0;
  const r = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS, requests: [{ setupRequest: (req) => ({ ...req, path: path(prefix)(n++) }) }], ...extra });
  return { rps: Math.round(r.requests.average), p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx };
}

/** A collector for one run; with `stages`, its handler-to-answer p99 (ms) at exit. */
async function collector(dbArgs: string[], stages: boolean) {
  const file = join(work, `counts-${seq++}.json`);
  // Also each second's event-loop delay and GC pauses of the main thread (src/bench-memory.ts).
  const memory = `${file}.memory`;
  const c = await startBin(['--port', '0', '--rate-limit', '0', '--max-connections-per-address', '0', ...dbArgs], { ...env, INSTALL_BEACON_BENCH: file, INSTALL_BEACON_BENCH_MEMORY: memory, ...(stages ? { INSTALL_BEACON_BENCH_STAGES: '1' } : {}) });
  return {
    url: c.url,
    async done() {
      await c.stop();
      const out = JSON.parse(readFileSync(file, 'utf8'));
      const t = out.stages?.['handler to answer (total)'];
      const main = existsSync(memory) ? readFileSync(memory, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((m) => m.thread === 'main').slice(1) : [];
      const loop = main.length ? { loopDelayP99Max: +Math.max(...main.map((m) => m.loopDelayP99)).toFixed(1), loopDelayMax: +Math.max(...main.map((m) => m.loopDelayMax)).toFixed(1), gcMsPerS: +(main.reduce((a, m) => a + m.gcMs, 0) / main.length).toFixed(1), gcMaxMs: +Math.max(...main.map((m) => m.gcMaxMs)).toFixed(1) } : undefined;
      return { loop, commits: out.commits, items: out.items, handlerToAnswer: t && { mean: +t.mean.toFixed(2), median: +t.median.toFixed(2), p99: +t.p99.toFixed(2) }, queueWaitP99: out.stages?.['queue wait']?.p99, commitP99: out.stages?.['commit call (hand-off to hand-back)']?.p99 ?? out.stages?.['one statement: INSERTs, upserts, COMMIT (round trip)']?.p99 };
    },
  };
}

const pg = await startPostgres();
const b = await bare();
try {
  for (const name of BACKENDS) {
    const dbArgs = name === 'SQLite' ? ['--db', join(work, `half-${Date.now()}.db`)] : ['--database-url', await pg.createDatabase(`half${Date.now()}`)];
    console.log(`## ${name}, load ${load()}`);
    const peakC = await collector(dbArgs, false);
    const peak = await cannon(peakC.url);
    await peakC.done();
    const rate = Math.max(1, Math.floor(peak.rps / 2));
    console.log(`collector peak ${peak.rps} req/s (p99 ${peak.p99} ms); half: ${rate} req/s`);
    for (let round = 0; round < ROUNDS; round++) {
      console.log(`-- round ${round + 1}, load ${load()}`);
      console.log('bare  autocannon overallRate          ', JSON.stringify(await cannon(b.url, { overallRate: rate })));
      console.log('bare  autocannon overallRate, no CO   ', JSON.stringify(await cannon(b.url, { overallRate: rate, ignoreCoordinatedOmission: true })));
      const pb = await paced(b.url, { rate, seconds: SECONDS, connections: CONNECTIONS, path: path(`pb${seq++}`) });
      console.log('bare  paced                           ', JSON.stringify(pb));
      for (const stages of [false, true]) {
        const tag = stages ? 'traced' : '      ';
        let c = await collector(dbArgs, stages);
        const a = await cannon(c.url, { overallRate: rate });
        console.log(`coll. ${tag} autocannon overallRate   `, JSON.stringify(a), JSON.stringify(await c.done()));
        c = await collector(dbArgs, stages);
        const a2 = await cannon(c.url, { overallRate: rate, ignoreCoordinatedOmission: true });
        console.log(`coll. ${tag} autocannon no CO         `, JSON.stringify(a2), JSON.stringify(await c.done()));
        c = await collector(dbArgs, stages);
        const p = await paced(c.url, { rate, seconds: SECONDS, connections: CONNECTIONS, path: path(`pc${seq++}`) });
        console.log(`coll. ${tag} paced                    `, JSON.stringify(p), JSON.stringify(await c.done()));
      }
      if (round === 0) {
        // The peak with stages traced, for the collector's own p99 at full load.
        const c = await collector(dbArgs, true);
        const a = await cannon(c.url);
        console.log('coll. traced autocannon peak          ', JSON.stringify(a), JSON.stringify(await c.done()));
      }
    }
  }
} finally {
  b.child.kill();
  await pg.destroy();
  rmSync(work, { recursive: true, force: true });
}
