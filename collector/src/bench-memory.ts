// The benchmark's memory samples (INSTALL_BEACON_BENCH_MEMORY=FILE, see bench/run.ts): every thread
// that starts a sampler (the main thread; the SQLite worker) appends one JSON line a second to FILE:
// the process's RSS and this thread's own V8 heap (process.memoryUsage() reports the calling isolate's
// heapUsed, heapTotal and external, and its environment's arrayBuffers). While FILE.gc exists, each
// sample first runs a full garbage collection (only with node --expose-gc: the benchmark passes it in
// NODE_OPTIONS), so the heap left after the load is what is still reachable. Each sample also gives the
// thread's event-loop delay and GC pauses since the last one (is a request's time before its handler GC?).
// Off by default.
import { appendFileSync, existsSync } from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
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
  /** This thread's event loop since the last sample: the p99 and the largest delay (ms), and the time in GC pauses (ms: summed, and the longest). */
  loopDelayP99: number;
  loopDelayMax: number;
  gcMs: number;
  gcMaxMs: number;
}

export function sampleMemory(file: string, thread: string, everyMs = 1000): () => void {
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  let gcMs = 0;
  let gcMaxMs = 0;
  const gcs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcMs += e.duration;
      gcMaxMs = Math.max(gcMaxMs, e.duration);
    }
  });
  gcs.observe({ entryTypes: ['gc'] });
  const once = () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    const collect = gc !== undefined && existsSync(`${file}.gc`);
    if (collect) gc();
    const m = process.memoryUsage();
    const s: MemorySample = {
      thread,
      threadId,
      t: Date.now(),
      gc: collect,
      rss: m.rss,
      heapUsed: m.heapUsed,
      heapTotal: m.heapTotal,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      // The histogram is in ns; with no sample yet it reads 0.
      loopDelayP99: loop.count ? loop.percentile(99) / 1e6 : 0,
      loopDelayMax: loop.count ? loop.max / 1e6 : 0,
      gcMs,
      gcMaxMs,
    };
    loop.reset();
    gcMs = 0;
    gcMaxMs = 0;
    try {
      appendFileSync(file, JSON.stringify(s) + '\n');
    } catch {
      // The benchmark's directory is gone (it has finished): nothing to record.
    }
  };
  once();
  const timer = setInterval(once, everyMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    loop.disable();
    gcs.disconnect();
  };
}
