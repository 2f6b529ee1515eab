// Group commit: while a commit is in flight the next batch gathers, so under load
// batches grow by themselves; one transaction stores a batch, and each request is
// answered only after that transaction committed. A database with room for a commit
// starts one at once (at the next turn of the event loop, so the requests read in the
// same turn go together), or after `lingerMs` if set, or when `maxBatch` have queued.
// With a commit in flight, another (up to `concurrency`) starts only once `spareAt` events
// wait: PostgreSQL's commits for whatever waited were small (6.6 events at 32 connections)
// and contended on the same rollup rows (BENCHMARKS.md, issue 22).
// No linger by default: a 2 ms linger left the SQLite writer idle between commits
// (half its commits were started by the timer: BENCHMARKS.md, issue 22).
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
  /** How long the first event of a batch may wait for company while the database is idle (default 0: the next turn of the event loop). */
  lingerMs?: number;
  /** Events waiting beyond this are refused at once (the database is slow or down). */
  maxQueue?: number;
  /** Commits in flight at once (1 for SQLite's single writer; more for PostgreSQL's connection pool). */
  concurrency?: number;
  /**
   * With a commit in flight, another starts only once this many events wait (default 200, at most maxBatch);
   * below that they wait for a commit to end and go together (bigger batches, fewer commits contending on the same rows).
   */
  spareAt?: number;
  /** How many events an item holds (default 1): maxBatch and maxQueue count events, and an item is never split across commits. */
  weight?(item: T): number;
  /** Told every commit's outcome, and when that commit started (Date.now()): the collector's health follows it. */
  onOutcome?(outcome: { ok: true; startedAt?: number } | { ok: false; error: unknown }): void;
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

/**
 * One item waiting for its commit (ingest: one request). No Promise and no timer per item: the batcher
 * calls `done` once with the outcome, withdraws every item past its deadline from one timer, and asks
 * `gone()` right before a commit would take the item (and at that timer).
 */
export interface Ticket<T> {
  readonly item: T;
  /** Withdrawn (WithdrawnError) if its commit has not started by then: ms on performance.now()'s clock; Infinity for never. */
  readonly deadline: number;
  /** Nobody waits for the answer any more (the client went away): withdrawn if its commit has not started. */
  gone(): boolean;
  /** The outcome, once: no argument when committed; else the commit's error, or WithdrawnError, QueueFullError, ClosedError. */
  done(error?: unknown): void;
}

const monotonic = (): number => performance.now();

export class Batcher<T> {
  private queue: Ticket<T>[] = [];
  /** When each queued ticket queued, in the queue's order (only while the benchmark traces stages). */
  private queuedAt: number[] = [];
  /** Events (the items' weights) in the queue. */
  private queued = 0;
  private active = new Set<Promise<void>>();
  /** When each commit in flight started (Date.now()). */
  private started = new Map<object, number>();
  private timer: { cancel(): void } | undefined;
  /** One timer for every queued ticket's deadline: armed for the earliest. */
  private deadlineTimer: NodeJS.Timeout | undefined;
  private deadlineAt = Infinity;
  private closed = false;
  readonly maxBatch: number;
  readonly lingerMs: number;
  readonly maxQueue: number;
  readonly concurrency: number;
  readonly spareAt: number;
  /** Commits run, and events in them (for tests and the benchmark). */
  readonly stats = { commits: 0, failures: 0, items: 0 };

  constructor(private readonly options: BatcherOptions<T>) {
    this.maxBatch = options.maxBatch ?? 1000;
    this.lingerMs = options.lingerMs ?? 0;
    this.maxQueue = options.maxQueue ?? 20_000;
    this.concurrency = options.concurrency ?? 1;
    this.spareAt = Math.min(options.spareAt ?? 200, this.maxBatch);
  }

  /** Room for a commit now: none in flight, or room for one more and enough events waiting to fill it. */
  private room(): boolean {
    return this.active.size === 0 || (this.active.size < this.concurrency && this.queued >= this.spareAt);
  }

  /** Queue a ticket; its `done` is called once (at once if it is refused: closed, full, gone or past its deadline). */
  enqueue(t: Ticket<T>): void {
    if (this.closed) return t.done(new ClosedError());
    if (t.gone() || t.deadline <= monotonic()) return t.done(new WithdrawnError());
    const weight = this.options.weight?.(t.item) ?? 1;
    if (this.queued + weight > this.maxQueue) return t.done(new QueueFullError());
    this.queue.push(t);
    if (tracing()) this.queuedAt.push(clock());
    this.queued += weight;
    if (t.deadline < this.deadlineAt) this.armDeadline(t.deadline);
    this.schedule();
  }

  /** Take a ticket out of the queue (WithdrawnError, nothing stored); false if its commit has started (its outcome answers it). */
  withdraw(t: Ticket<T>): boolean {
    const i = this.queue.indexOf(t);
    if (i === -1) return false;
    this.remove(i);
    t.done(new WithdrawnError());
    return true;
  }

  private remove(i: number): void {
    const [t] = this.queue.splice(i, 1);
    if (this.queuedAt.length) this.queuedAt.splice(i, 1);
    this.queued -= this.options.weight?.(t!.item) ?? 1;
  }

  private armDeadline(at: number): void {
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineAt = at;
    this.deadlineTimer = setTimeout(() => this.expire(), Math.max(0, Math.ceil(at - monotonic())));
  }

  /** Withdraw every queued ticket past its deadline or gone; arm the timer for the earliest deadline left. */
  private expire(): void {
    this.deadlineTimer = undefined;
    this.deadlineAt = Infinity;
    const now = monotonic();
    const out: Ticket<T>[] = [];
    let next = Infinity;
    for (let i = 0; i < this.queue.length; ) {
      const t = this.queue[i]!;
      if (t.deadline <= now || t.gone()) {
        this.remove(i);
        out.push(t);
      } else {
        if (t.deadline < next) next = t.deadline;
        i++;
      }
    }
    if (next < Infinity) this.armDeadline(next);
    for (const t of out) t.done(new WithdrawnError());
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
    if (!this.room()) return; // a commit in flight flushes again when it ends
    if (this.queued >= this.maxBatch || this.active.size > 0) this.flush();
    else this.timer ??= this.later(() => this.flush());
  }

  /** `f` after lingerMs, or (0) at the next turn of the event loop, after the I/O already read. */
  private later(f: () => void): { cancel(): void } {
    if (this.lingerMs > 0) {
      const t = setTimeout(f, this.lingerMs);
      return { cancel: () => clearTimeout(t) };
    }
    const i = setImmediate(f);
    return { cancel: () => clearImmediate(i) };
  }

  private flush(): void {
    this.timer?.cancel();
    this.timer = undefined;
    if (!this.room() || this.queue.length === 0) return;
    const t = tracing() ? clock() : 0;
    // Whole items up to maxBatch events (at least one item, however heavy); a ticket whose client is
    // gone is withdrawn here, the last moment before its commit would start.
    const batch: Ticket<T>[] = [];
    const gone: Ticket<T>[] = [];
    let n = 0;
    let events = 0;
    let dropped = 0;
    for (const w of this.queue) {
      const weight = this.options.weight?.(w.item) ?? 1;
      if (batch.length > 0 && events + weight > this.maxBatch) break;
      n++;
      if (w.gone()) {
        gone.push(w);
        dropped += weight;
        continue;
      }
      batch.push(w);
      events += weight;
    }
    this.queue.splice(0, n);
    const at = this.queuedAt.length ? this.queuedAt.splice(0, n) : undefined;
    this.queued -= events + dropped;
    for (const w of gone) w.done(new WithdrawnError());
    if (batch.length === 0) return this.flush();
    if (t) {
      for (const q of at ?? []) stage('queue wait', t - q);
      stage('batch build', clock() - t, batch.length);
    }
    const commit = {};
    const startedAt = Date.now();
    this.started.set(commit, startedAt);
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
    const items = new Array<T>(batch.length);
    for (let i = 0; i < batch.length; i++) items[i] = batch[i]!.item;
    let committing: Promise<unknown>;
    try {
      committing = this.options.commit(items);
    } catch (e) {
      committing = Promise.reject(e);
    }
    const done: Promise<void> = committing.then(
      () =>
        settle(() => {
          this.stats.commits++;
          this.stats.items += events;
          this.options.onOutcome?.({ ok: true, startedAt });
          for (const w of batch) w.done();
        }),
      (e: unknown) =>
        settle(() => {
          this.stats.failures++;
          this.options.onOutcome?.({ ok: false, error: e });
          for (const w of batch) w.done(e);
        }),
    );
    this.active.add(done);
    // Room for another commit and enough waiting: start it too.
    if (this.room()) this.flush();
  }

  /** Stop taking events, commit everything queued, and wait for it. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.active.size > 0 || this.queue.length > 0) {
      this.flush();
      if (this.active.size > 0) await Promise.race(this.active);
    }
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    this.deadlineAt = Infinity;
  }
}
