// SQLite in a worker thread. better-sqlite3 is synchronous: on the main thread
// every commit's fsync (synchronous=FULL) would stop the HTTP server for its
// duration. In a worker, the main thread keeps parsing requests and filling the
// next batch while the current one is fsynced: group commit proper, and the
// second core does the database work.
import { createRequire } from 'node:module';
import { parentPort, Worker } from 'node:worker_threads';
import { addStages, clock, stage, takeStages, traceStages, tracing, type Stages } from '../trace.js';
import { openSqlite, walIndex } from './sqlite.js';
import type { Limits, Storage } from './types.js';

type Method = Exclude<keyof Storage, 'kind' | 'where'>;
/** `sent`/`replied` (and `stages`): only when the benchmark traces stages (trace.ts). */
interface Call { id: number; method: Method; args: unknown[]; sent?: number }
type Reply = ({ id: number; ok: true; value: unknown } | { id: number; ok: false; message: string }) & { replied?: number; stages?: Stages };

/** The marker in workerData that makes a copy of the bundle run as the SQLite worker. */
export const WORKER_FLAG = 'installBeaconCollectorSqlite';

/**
 * Checkpoints off the writer's commits. The writer's connection never checkpoints inside a commit
 * (wal_autocheckpoint=0). After a write, once the WAL holds CHECKPOINT_AT frames not yet in the database
 * file, a thread of its own (the checkpointer, started then) runs a PASSIVE checkpoint: it copies pages while
 * the writer goes on committing. A passive checkpoint never waits, so it cannot finish while the writer keeps
 * appending; the WAL starts over only when a write finds it wholly checkpointed. So once the checkpointer has
 * left at most CATCH_UP frames (the commits made while it ran), or the WAL is WAL_BOUND frames long, the writer
 * checkpoints what is left itself, between two commits (after answering the one before), and the WAL starts over
 * at the next commit whatever the load: its file stays at about CHECKPOINT_AT frames and is reused, never grown
 * again (a growing file costs every commit's fsync a block allocation); it is bounded by WAL_BOUND frames and a
 * batch (unless a reader holds an old snapshot, which bounds any checkpoint).
 */
export const CHECKPOINT_AT = 1000;
export const WAL_BOUND = 4000;
export const CATCH_UP = 256;

interface WorkerData { file: string; limits?: Limits; stages?: boolean; script?: string }

const WRITES = new Set<Method>(['insertBatch', 'migrate', 'prune', 'deleteCountsBefore', 'deleteBefore', 'metaSet', 'metaGetOrSet', 'ping']);

/**
 * The checkpointer thread's whole program: a connection of its own (synchronous=FULL: the checkpoint syncs the
 * WAL before it copies and the database file after) that runs a PASSIVE checkpoint each time it is asked. Not the
 * bundle: a thread that loads only better-sqlite3 starts in about half the CPU time (40-60 ms against 110-130).
 */
const CHECKPOINTER = `const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { timeout: 5000 });
db.pragma('synchronous = FULL');
parentPort.on('message', (m) => {
  if (m === 'close') {
    db.close();
    process.exit(0);
  }
  let r;
  try {
    r = db.pragma('wal_checkpoint(PASSIVE)');
  } catch (e) {
    r = String(e && e.message);
  }
  parentPort.postMessage(r);
});`;

/** In the worker: serve calls on one connection, one at a time (a batch's transaction is never interleaved). */
export function serveSqliteWorker(data: WorkerData): void {
  const { file, limits, stages, script } = data;
  traceStages(stages === true);
  const s = openSqlite(file, limits, { checkpoints: script ? 'external' : 'auto' });
  const wal = walIndex(file);
  let checkpointer: Worker | undefined;
  let checkpointing = false;
  // Started at this worker's first write (the writer's migrate, before the collector listens); a worker that
  // only reads (the dashboard's) never starts one.
  const startCheckpointer = (): Worker => {
    const w = new Worker(CHECKPOINTER, { eval: true, workerData: { file, driver: createRequire(script!).resolve('better-sqlite3') } });
    w.on('message', () => (checkpointing = false));
    w.on('error', () => {
      if (checkpointer === w) checkpointer = undefined;
      checkpointing = false;
    });
    w.unref();
    return w;
  };
  /** After a write has been answered: start a checkpoint in the other thread, or (past the bound) run it here. */
  const afterWrite = () => {
    checkpointer ??= startCheckpointer();
    const { frames, backfilled } = wal();
    // Past the bound; or the checkpointer has done all but the last few commits' frames: what is left is
    // checkpointed here (a few pages), so that the next commit starts the WAL over and its file never grows.
    const bound = frames >= WAL_BOUND;
    if (bound || (!checkpointing && backfilled > 0 && frames > backfilled && frames - backfilled <= CATCH_UP)) {
      const t = tracing() ? clock() : 0;
      try {
        s.checkpoint();
      } catch {
        // the next write's own error says what is wrong
      }
      if (t) stage(bound ? 'writer checkpoint at the bound' : 'writer checkpoint, catch-up', clock() - t);
    } else if (frames - backfilled >= CHECKPOINT_AT && !checkpointing) {
      checkpointing = true;
      checkpointer.postMessage('checkpoint');
    }
  };
  let chain: Promise<unknown> = Promise.resolve();
  parentPort!.on('message', (call: Call) => {
    chain = chain.then(async () => {
      if (call.sent !== undefined) stage('worker hand-off', clock() - call.sent, (call.args[0] as unknown[]).length);
      // The checkpointer's connection closes first, so that closing this one (the last) checkpoints the WAL.
      // (At most a second: a checkpointer stuck in an fsync, on a frozen disk, is stopped, as exiting would stop it.)
      if (call.method === 'close' && checkpointer) {
        const c = checkpointer;
        const exited = new Promise((r) => (c.once('exit', r), c.postMessage('close')));
        const timer = new Promise((r) => setTimeout(r, 1000).unref());
        if ((await Promise.race([exited.then(() => true), timer.then(() => false)])) === false) await c.terminate();
      }
      let reply: Reply;
      try {
        reply = { id: call.id, ok: true, value: await (s[call.method] as (...a: unknown[]) => Promise<unknown>)(...call.args) };
      } catch (e) {
        reply = { id: call.id, ok: false, message: (e as Error).message };
      }
      if (call.sent !== undefined) Object.assign(reply, { stages: takeStages(), replied: clock() });
      parentPort!.postMessage(reply);
      if (call.method === 'close') process.exit(0);
      if (script && WRITES.has(call.method)) afterWrite();
    });
  });
}

/** On the main thread: the Storage interface, each call answered by the worker started from `script`. */
export function openSqliteInWorker(file: string, script: string, limits?: Limits, stages = false): Storage {
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let next = 0;
  let worker: Worker | undefined;
  const spawn = (): Worker => {
    const w = new Worker(script, { workerData: { [WORKER_FLAG]: { file, limits, stages, script } satisfies WorkerData } });
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
