// The benchmark's memory samples (INSTALL_BEACON_BENCH_MEMORY=FILE, see bench/run.ts): every thread
// that starts a sampler (the main thread; the SQLite worker) appends one JSON line a second to FILE:
// the process's RSS and this thread's own V8 heap (process.memoryUsage() reports the calling isolate's
// heapUsed, heapTotal and external, and its environment's arrayBuffers). While FILE.gc exists, each
// sample first runs a full garbage collection (only with node --expose-gc: the benchmark passes it in
// NODE_OPTIONS), so the heap left after the load is what is still reachable. Off by default.
import { appendFileSync, existsSync } from 'node:fs';
import { threadId } from 'node:worker_threads';

export interface MemorySample {
  thread: string;
  threadId: number;
  /** ms since the epoch */
  t: number;
  /** Whether a full GC ran just before this sample. */
  gc: boolean;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

export function sampleMemory(file: string, thread: string, everyMs = 1000): () => void {
  const once = () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    const collect = gc !== undefined && existsSync(`${file}.gc`);
    if (collect) gc();
    const m = process.memoryUsage();
    const s: MemorySample = { thread, threadId, t: Date.now(), gc: collect, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
    try {
      appendFileSync(file, JSON.stringify(s) + '\n');
    } catch {
      // The benchmark's directory is gone (it has finished): nothing to record.
    }
  };
  once();
  const timer = setInterval(once, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
