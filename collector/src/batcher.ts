// Group commit: events wait in memory for at most `lingerMs` (or until
// `maxBatch` have queued), then one transaction stores them all, and each
// request is answered only after that transaction committed. While a commit
// is in flight the next batch gathers, so under load batches grow by themselves.
//
// An answer other than 2xx must leave nothing stored. So an event can be withdrawn
// (its `signal` aborts: the request's deadline passed, or its client went away)
// only while it waits in the queue; once its batch's commit has started, it is
// answered by that commit's outcome, however long the commit takes.
import { clock, stage, tracing } from './trace.js';

export interface BatcherOptions<T> {
  commit(batch: T[]): Promise<unknown>;
  /** Largest batch per transaction. */
  maxBatch?: number;
  /** How long the first event of a batch may wait for company. */
  lingerMs?: number;
  /** Events waiting beyond this are refused at once (the database is slow or down). */
  maxQueue?: number;
  /** Commits in flight at once (1 for SQLite's single writer; more for PostgreSQL's connection pool). */
  concurrency?: number;
  /** How many events an item holds (default 1): maxBatch and maxQueue count events, and an item is never split across commits. */
  weight?(item: T): number;
  /** Told every commit's outcome (the collector's health follows it). */
  onOutcome?(outcome: { ok: true } | { ok: false; error: unknown }): void;
}

export class QueueFullError extends Error {
  constructor() {
    super('the commit queue is full');
  }
}
export class WithdrawnError extends Error {
  constructor() {
    super('withdrawn before its commit started');
  }
}
export class ClosedError extends Error {
  constructor() {
    super('the collector is shutting down');
  }
}

interface Waiting<T> {
  item: T;
  /** When it queued (only while the benchmark traces stages). */
  at: number;
  resolve(): void;
  reject(e: unknown): void;
}

export class Batcher<T> {
  private queue: Waiting<T>[] = [];
  /** Events (the items' weights) in the queue. */
  private queued = 0;
  private active = new Set<Promise<void>>();
  /** When each commit in flight started (Date.now()). */
  private started = new Map<object, number>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  readonly maxBatch: number;
  readonly lingerMs: number;
  readonly maxQueue: number;
  readonly concurrency: number;
  /** Commits run, and events in them (for tests and the benchmark). */
  readonly stats = { commits: 0, failures: 0, items: 0 };

  constructor(private readonly options: BatcherOptions<T>) {
    this.maxBatch = options.maxBatch ?? 1000;
    this.lingerMs = options.lingerMs ?? 2;
    this.maxQueue = options.maxQueue ?? 20_000;
    this.concurrency = options.concurrency ?? 1;
  }

  /**
   * Resolves once the item is committed; rejects if its commit failed or the queue is full, or
   * (WithdrawnError, nothing stored) if `signal` aborts while the item still waits in the queue.
   */
  add(item: T, signal?: AbortSignal): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError());
    if (signal?.aborted) return Promise.reject(new WithdrawnError());
    const weight = this.options.weight?.(item) ?? 1;
    if (this.queued + weight > this.maxQueue) return Promise.reject(new QueueFullError());
    return new Promise((resolve, reject) => {
      const w: Waiting<T> = { item, at: tracing() ? clock() : 0, resolve, reject };
      if (signal) {
        const withdraw = () => {
          const i = this.queue.indexOf(w);
          if (i === -1) return; // its commit has started: the commit's outcome answers it
          this.queue.splice(i, 1);
          this.queued -= weight;
          reject(new WithdrawnError());
        };
        signal.addEventListener('abort', withdraw, { once: true });
        const settle = (f: () => void) => () => (signal.removeEventListener('abort', withdraw), f());
        w.resolve = settle(resolve);
        w.reject = (e) => settle(() => reject(e))();
      }
      this.queue.push(w);
      this.queued += weight;
      this.schedule();
    });
  }

  /** When the oldest commit still in flight started (ms since the epoch), or undefined: a commit that hangs (a frozen disk) shows here. */
  get inFlightSince(): number | undefined {
    let oldest: number | undefined;
    for (const t of this.started.values()) if (oldest === undefined || t < oldest) oldest = t;
    return oldest;
  }

  /** Events waiting for a commit. */
  get pending(): number {
    return this.queued;
  }

  private schedule(): void {
    if (this.active.size >= this.concurrency) return; // a commit in flight flushes again when it ends
    if (this.queued >= this.maxBatch) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.lingerMs);
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.active.size >= this.concurrency || this.queue.length === 0) return;
    const t = tracing() ? clock() : 0;
    // Whole items up to maxBatch events (at least one item, however heavy).
    let n = 0;
    let events = 0;
    for (const w of this.queue) {
      const weight = this.options.weight?.(w.item) ?? 1;
      if (n > 0 && events + weight > this.maxBatch) break;
      n++;
      events += weight;
    }
    const batch = this.queue.splice(0, n);
    this.queued -= events;
    if (t) {
      for (const w of batch) stage('queue wait', t - w.at);
      stage('batch build', clock() - t, batch.length);
    }
    const commit = {};
    this.started.set(commit, Date.now());
    const c = t && clock();
    // The next batch goes to the database before this one's requests are answered (answering a batch
    // is writing its responses): the writer never sits idle while the main thread answers.
    const settle = (answer: () => void) => {
      if (c) stage('commit call (hand-off to hand-back)', clock() - c, batch.length);
      this.started.delete(commit);
      this.active.delete(done);
      // Events that queued meanwhile have waited a whole commit already: go at once.
      if (this.queue.length > 0) this.flush();
      answer();
    };
    const done: Promise<void> = (async () => {
      await this.options.commit(batch.map((w) => w.item));
    })().then(
      () =>
        settle(() => {
          this.stats.commits++;
          this.stats.items += events;
          this.options.onOutcome?.({ ok: true });
          for (const w of batch) w.resolve();
        }),
      (e: unknown) =>
        settle(() => {
          this.stats.failures++;
          this.options.onOutcome?.({ ok: false, error: e });
          for (const w of batch) w.reject(e);
        }),
    );
    this.active.add(done);
    // Room for another commit and a full batch waiting: start it too.
    if (this.queued >= this.maxBatch) this.flush();
  }

  /** Stop taking events, commit everything queued, and wait for it. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.active.size > 0 || this.queue.length > 0) {
      this.flush();
      await Promise.race(this.active);
    }
  }
}
