// Group commit: events wait in memory for at most `lingerMs` (or until
// `maxBatch` have queued), then one transaction stores them all, and each
// request is answered only after that transaction committed. While a commit
// is in flight the next batch gathers, so under load batches grow by themselves.
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
}

export class QueueFullError extends Error {
  constructor() {
    super('the commit queue is full');
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
  private active = new Set<Promise<void>>();
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

  /** Resolves once the item is committed; rejects if its commit failed or the queue is full. */
  add(item: T): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError());
    if (this.queue.length >= this.maxQueue) return Promise.reject(new QueueFullError());
    return new Promise((resolve, reject) => {
      this.queue.push({ item, at: tracing() ? clock() : 0, resolve, reject });
      this.schedule();
    });
  }

  get pending(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.active.size >= this.concurrency) return; // a commit in flight flushes again when it ends
    if (this.queue.length >= this.maxBatch) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.lingerMs);
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.active.size >= this.concurrency || this.queue.length === 0) return;
    const t = tracing() ? clock() : 0;
    const batch = this.queue.splice(0, this.maxBatch);
    const items = batch.map((w) => w.item);
    if (t) {
      for (const w of batch) stage('queue wait', t - w.at);
      stage('batch build', clock() - t, batch.length);
    }
    const c = t && clock();
    // The next batch goes to the database before this one's requests are answered (answering a batch
    // is writing its responses): the writer never sits idle while the main thread answers.
    const settle = (answer: () => void) => {
      if (c) stage('commit call (hand-off to hand-back)', clock() - c, batch.length);
      this.active.delete(done);
      // Events that queued meanwhile have waited a whole commit already: go at once.
      if (this.queue.length > 0) this.flush();
      answer();
    };
    const done: Promise<void> = (async () => {
      await this.options.commit(items);
    })().then(
      () =>
        settle(() => {
          this.stats.commits++;
          this.stats.items += batch.length;
          for (const w of batch) w.resolve();
        }),
      (e: unknown) =>
        settle(() => {
          this.stats.failures++;
          for (const w of batch) w.reject(e);
        }),
    );
    this.active.add(done);
    // Room for another commit and a full batch waiting: start it too.
    if (this.queue.length >= this.maxBatch) this.flush();
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
