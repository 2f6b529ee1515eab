// SQLite in a worker thread. better-sqlite3 is synchronous: on the main thread
// every commit's fsync (synchronous=FULL) would stop the HTTP server for its
// duration. In a worker, the main thread keeps parsing requests and filling the
// next batch while the current one is fsynced: group commit proper, and the
// second core does the database work.
import { parentPort, Worker } from 'node:worker_threads';
import { addStages, clock, stage, takeStages, traceStages, type Stages } from '../trace.js';
import { openSqlite } from './sqlite.js';
import type { Limits, Storage } from './types.js';

type Method = Exclude<keyof Storage, 'kind' | 'where'>;
/** `sent`/`replied` (and `stages`): only when the benchmark traces stages (trace.ts). */
interface Call { id: number; method: Method; args: unknown[]; sent?: number }
type Reply = ({ id: number; ok: true; value: unknown } | { id: number; ok: false; message: string }) & { replied?: number; stages?: Stages };

/** The marker in workerData that makes a copy of the bundle run as the SQLite worker. */
export const WORKER_FLAG = 'installBeaconCollectorSqlite';

/** In the worker: serve calls on one connection, one at a time (a batch's transaction is never interleaved). */
export function serveSqliteWorker({ file, limits, stages }: { file: string; limits?: Limits; stages?: boolean }): void {
  traceStages(stages === true);
  const s = openSqlite(file, limits);
  let chain: Promise<unknown> = Promise.resolve();
  parentPort!.on('message', (call: Call) => {
    chain = chain.then(async () => {
      if (call.sent !== undefined) stage('worker hand-off', clock() - call.sent, (call.args[0] as unknown[]).length);
      let reply: Reply;
      try {
        reply = { id: call.id, ok: true, value: await (s[call.method] as (...a: unknown[]) => Promise<unknown>)(...call.args) };
      } catch (e) {
        reply = { id: call.id, ok: false, message: (e as Error).message };
      }
      if (call.sent !== undefined) Object.assign(reply, { stages: takeStages(), replied: clock() });
      parentPort!.postMessage(reply);
      if (call.method === 'close') process.exit(0);
    });
  });
}

/** On the main thread: the Storage interface, each call answered by the worker started from `script`. */
export function openSqliteInWorker(file: string, script: string, limits?: Limits, stages = false): Storage {
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let next = 0;
  let worker: Worker | undefined;
  const spawn = (): Worker => {
    const w = new Worker(script, { workerData: { [WORKER_FLAG]: { file, limits, stages } } });
    w.on('message', (r: Reply) => {
      if (r.stages) addStages(r.stages);
      if (r.replied !== undefined) stage('hand-back', clock() - r.replied, r.stages?.INSERTs?.[1] ?? 1);
      const p = pending.get(r.id);
      pending.delete(r.id);
      if (r.ok) p?.resolve(r.value);
      else p?.reject(new Error(r.message));
    });
    // A worker that dies fails what it held (503); the next call starts a new one.
    const fail = (e: Error) => {
      if (worker === w) worker = undefined;
      for (const [id, p] of pending) {
        pending.delete(id);
        p.reject(e);
      }
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`the SQLite worker exited (${code})`)));
    return w;
  };
  const call = <T>(method: Method, ...args: unknown[]): Promise<T> =>
    new Promise((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      (worker ??= spawn()).postMessage({ id, method, args, ...(stages && method === 'insertBatch' ? { sent: clock() } : {}) } satisfies Call);
    });

  return {
    kind: 'sqlite',
    concurrency: 1,
    where: `SQLite ${file} (WAL)`,
    migrate: () => call('migrate'),
    insertBatch: (events) => call('insertBatch', events),
    daily: (pkg, start, end) => call('daily', pkg, start, end),
    breakdown: (pkg, field, start, end) => call('breakdown', pkg, field, start, end),
    packages: () => call('packages'),
    topPackages: (start, end, limit) => call('topPackages', start, end, limit),
    cube: (pkg, start, end, filters, series, top, fields) => call('cube', pkg, start, end, filters, series, top, fields),
    prune: (target) => call('prune', target),
    deleteCountsBefore: (day) => call('deleteCountsBefore', day),
    hasPackage: (pkg) => call('hasPackage', pkg),
    events: (opts) => call('events', opts),
    deleteBefore: (cutoff, limit) => call('deleteBefore', cutoff, limit),
    metaSet: (key, value) => call('metaSet', key, value),
    metaGetOrSet: (key, value) => call('metaGetOrSet', key, value),
    ping: () => call('ping'),
    async close() {
      if (!worker) return;
      const w = worker;
      const exited = new Promise((r) => w.once('exit', r));
      await call('close').catch(() => {});
      await exited;
    },
  };
}
