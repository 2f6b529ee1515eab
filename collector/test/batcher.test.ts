import { describe, expect, it } from 'vitest';
import { Batcher, ClosedError, QueueFullError, WithdrawnError, type Ticket } from '../src/batcher.js';

/**
 * An item as a promise: resolves once committed; rejects if its commit failed or the queue is full, or
 * (WithdrawnError) if `signal` aborts while the item still waits. The tickets ingest makes, with the
 * withdrawal driven by a signal so that a case can pick the moment.
 */
function add<T>(b: Batcher<T>, item: T, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const withdraw = () => b.withdraw(ticket);
    const ticket: Ticket<T> = {
      item,
      deadline: Infinity,
      gone: () => signal?.aborted === true,
      done: (e) => {
        signal?.removeEventListener('abort', withdraw);
        if (e === undefined) resolve();
        else reject(e);
      },
    };
    signal?.addEventListener('abort', withdraw, { once: true });
    b.enqueue(ticket);
  });
}

/** A commit function the test opens and fails by hand, recording every batch. */
function gate() {
  const batches: number[][] = [];
  const pending: Array<{ open(): void; fail(e: Error): void }> = [];
  let waiters: Array<() => void> = [];
  const commit = (batch: number[]) =>
    new Promise<void>((resolve, reject) => {
      batches.push(batch);
      pending.push({ open: resolve, fail: reject });
      for (const w of waiters.splice(0)) w();
    });
  /** Wait until `n` commits have started. */
  const started = async (n: number) => {
    while (batches.length < n) await new Promise<void>((r) => waiters.push(r));
  };
  return { commit, batches, pending, started };
}

const settled = async <T,>(p: Promise<T>) => {
  let state = 'pending';
  p.then(() => (state = 'resolved'), () => (state = 'rejected'));
  // Let every queued microtask and an immediate run.
  await new Promise((r) => setImmediate(r));
  return state;
};

describe('Batcher (group commit)', () => {
  it('size trigger: maxBatch events commit at once, without waiting for the timer', async () => {
    const g = gate();
    const b = new Batcher({ commit: g.commit, maxBatch: 3, lingerMs: 3_600_000 });
    const acks = [1, 2, 3].map((i) => add(b, i));
    await g.started(1);
    expect(g.batches).toEqual([[1, 2, 3]]);
    g.pending[0]!.open();
    await Promise.all(acks);
  });

  it('weighted items (a request\'s events): maxBatch and maxQueue count events, and an item is never split', async () => {
    const batches: number[][][] = [];
    const opens: Array<() => void> = [];
    let started: () => void = () => {};
    const commit = (batch: number[][]) =>
      new Promise<void>((resolve) => {
        batches.push(batch);
        opens.push(resolve);
        started();
      });
    const b = new Batcher<number[]>({ commit, weight: (e) => e.length, maxBatch: 5, lingerMs: 3_600_000, maxQueue: 9 });
    const first = add(b, [1, 2, 3]);
    expect(b.pending).toBe(3);
    const wait = new Promise<void>((r) => (started = r));
    const second = add(b, [4, 5, 6]); // 6 events queued: over maxBatch, so a commit starts, of whole items only
    await wait;
    expect(batches).toEqual([[[1, 2, 3]]]);
    expect(b.pending).toBe(3);
    await expect(add(b, [7, 8, 9, 10, 11, 12, 13])).rejects.toBeInstanceOf(QueueFullError); // 3 + 7 > 9 events
    const third = add(b, [7, 8, 9, 10, 11, 12]); // 3 + 6 = 9: room; heavier than maxBatch, it still goes whole
    opens[0]!();
    await first;
    await new Promise((r) => setImmediate(r));
    expect(batches[1]).toEqual([[4, 5, 6]]);
    opens[1]!();
    await second;
    await new Promise((r) => setImmediate(r));
    expect(batches[2]).toEqual([[7, 8, 9, 10, 11, 12]]);
    opens[2]!();
    await third;
    expect(b.stats.items).toBe(12);
  });

  it('time trigger: a lone event commits after lingerMs', async () => {
    const g = gate();
    const b = new Batcher({ commit: g.commit, maxBatch: 100, lingerMs: 5 });
    const ack = add(b, 7);
    await g.started(1);
    expect(g.batches).toEqual([[7]]);
    g.pending[0]!.open();
    await ack;
  });

  it('no linger by default: with the database idle, the events added in one turn commit together at the next turn of the event loop', async () => {
    const g = gate();
    const b = new Batcher({ commit: g.commit, maxBatch: 100 });
    const acks = [add(b, 1), add(b, 2)];
    expect(g.batches).toEqual([]); // not within the turn that added them
    await new Promise((r) => setImmediate(r)); // the batcher's immediate came first (a 2 ms linger timer would not have fired yet)
    expect(g.batches).toEqual([[1, 2]]);
    const third = add(b, 3); // while that commit is in flight: gathers for the next
    await new Promise((r) => setImmediate(r));
    expect(g.batches).toEqual([[1, 2]]);
    g.pending[0]!.open();
    await g.started(2);
    expect(g.batches).toEqual([[1, 2], [3]]);
    g.pending[1]!.open();
    await Promise.all([...acks, third]);
  });

  it('an event is acknowledged only after its commit returned', async () => {
    const g = gate();
    const b = new Batcher({ commit: g.commit, maxBatch: 1 });
    const ack = add(b, 1);
    await g.started(1);
    expect(await settled(ack)).toBe('pending');
    g.pending[0]!.open();
    expect(await settled(ack)).toBe('resolved');
  });

  it('events that arrive during a commit form the next batch, which starts when the first ends', async () => {
    const g = gate();
    const b = new Batcher({ commit: g.commit, maxBatch: 100, lingerMs: 1 });
    const first = add(b, 1);
    await g.started(1);
    const next = [2, 3, 4, 5].map((i) => add(b, i));
    expect(g.batches).toHaveLength(1); // nothing else starts while a commit is in flight
    g.pending[0]!.open();
    await first;
    await g.started(2);
    expect(g.batches[1]).toEqual([2, 3, 4, 5]);
    g.pending[1]!.open();
    await Promise.all(next);
  });

  it('concurrency: up to that many commits in flight at once; the next waits for one to end', async () => {
    const g = gate();
    const b = new Batcher({ commit: g.commit, maxBatch: 1, concurrency: 2 });
    const acks = [1, 2, 3].map((i) => add(b, i));
    await g.started(2);
    expect(g.batches).toEqual([[1], [2]]);
    g.pending[1]!.open();
    await g.started(3);
    expect(g.batches[2]).toEqual([3]);
    g.pending[0]!.open();
    g.pending[2]!.open();
    await Promise.all(acks);
  });

  it('spareAt: with a commit in flight, a second starts only once that many events wait; fewer wait for the first to end', async () => {
    const g = gate();
    const b = new Batcher({ commit: g.commit, maxBatch: 10, concurrency: 3, spareAt: 3 });
    const first = add(b, 0);
    await g.started(1);
    const acks = [1, 2].map((i) => add(b, i));
    // Two waiting, below spareAt: no second commit, however many turns pass.
    expect(await settled(acks[0]!)).toBe('pending');
    expect(g.batches).toEqual([[0]]);
    acks.push(add(b, 3));
    await g.started(2);
    expect(g.batches[1]).toEqual([1, 2, 3]);
    // Below spareAt again: the next waits until no commit is in flight (one ending is not enough).
    acks.push(add(b, 4));
    expect(await settled(acks[3]!)).toBe('pending');
    expect(g.batches).toHaveLength(2);
    g.pending[0]!.open();
    expect(await settled(first)).toBe('resolved');
    expect(g.batches).toHaveLength(2);
    g.pending[1]!.open();
    await g.started(3);
    expect(g.batches[2]).toEqual([4]);
    g.pending[2]!.open();
    await Promise.all([first, ...acks]);
    expect(b.stats).toMatchObject({ commits: 3, items: 5 });
  });

  it('a failed commit rejects every event in it; the next batch commits (recovery)', async () => {
    const g = gate();
    const b = new Batcher({ commit: g.commit, maxBatch: 2, lingerMs: 1 });
    const failed = [add(b, 1), add(b, 2)];
    await g.started(1);
    g.pending[0]!.fail(new Error('database down'));
    for (const p of failed) await expect(p).rejects.toThrow('database down');
    const ok = [add(b, 3), add(b, 4)];
    await g.started(2);
    g.pending[1]!.open();
    await Promise.all(ok);
    expect(b.stats).toMatchObject({ commits: 1, failures: 1, items: 2 });
  });

  it('a full queue refuses at once (the database is slow or gone)', async () => {
    const g = gate();
    const b = new Batcher({ commit: g.commit, maxBatch: 1, maxQueue: 2 });
    const inFlight = add(b, 1);
    await g.started(1);
    const queued = [add(b, 2), add(b, 3)];
    await expect(add(b, 4)).rejects.toBeInstanceOf(QueueFullError);
    g.pending[0]!.open();
    await inFlight;
    await g.started(2);
    g.pending[1]!.open();
    await g.started(3);
    g.pending[2]!.open();
    await Promise.all(queued);
  });

  it('close() commits everything queued (even before its timer), then refuses new events', async () => {
    const committed: number[][] = [];
    const b = new Batcher<number>({ commit: async (x) => void committed.push(x), maxBatch: 2, lingerMs: 3_600_000 });
    const acks = [1, 2, 3].map((i) => add(b, i));
    await b.close();
    await Promise.all(acks);
    expect(committed.flat()).toEqual([1, 2, 3]);
    await expect(add(b, 4)).rejects.toBeInstanceOf(ClosedError);
  });

  // Issue 22: the writer must not wait for the main thread to answer a batch before it gets the next one.
  it.each([
    ['committed', (g: ReturnType<typeof gate>) => g.pending[0]!.open()],
    ['failed', (g: ReturnType<typeof gate>) => g.pending[0]!.fail(new Error('disk'))],
  ])('when a batch has %s, the events queued meanwhile are handed to commit before its first request hears of it', async (_, end) => {
    const g = gate();
    const b = new Batcher({ commit: g.commit, lingerMs: 0 });
    const first = add(b, 1);
    await g.started(1);
    const later = [add(b, 2), add(b, 3)];
    let commitsWhenAnswered = -1;
    const heard = first.then(
      () => (commitsWhenAnswered = g.batches.length),
      () => (commitsWhenAnswered = g.batches.length),
    );
    end(g);
    await heard;
    expect([commitsWhenAnswered, g.batches]).toEqual([2, [[1], [2, 3]]]);
    g.pending[1]!.open();
    await Promise.all(later);
  });

  // Issue 20 item 2: an answer other than 2xx must leave nothing stored. An event is withdrawn when its
  // request's signal aborts (deadline, client gone) only while it still waits; once its commit started,
  // that commit answers it, however long it takes.
  it('an event withdrawn while queued is rejected at once and never committed; the others are', async () => {
    const g = gate();
    const b = new Batcher({ commit: g.commit, maxBatch: 100, lingerMs: 1 });
    const first = add(b, 1);
    await g.started(1); // the commit of [1] hangs (a frozen disk)
    const ac = new AbortController();
    const withdrawn = add(b, 2, ac.signal);
    const kept = add(b, 3, new AbortController().signal);
    ac.abort();
    await expect(withdrawn).rejects.toBeInstanceOf(WithdrawnError);
    expect(b.pending).toBe(1);
    g.pending[0]!.open();
    await first;
    await g.started(2);
    expect(g.batches).toEqual([[1], [3]]);
    g.pending[1]!.open();
    await kept;
  });

  it('an abort after the commit started changes nothing: the commit outcome answers (200 after a slow commit, or its error)', async () => {
    const g = gate();
    const b = new Batcher({ commit: g.commit, maxBatch: 1 });
    const ac = new AbortController();
    const ok = add(b, 1, ac.signal);
    await g.started(1);
    ac.abort();
    expect(await settled(ok)).toBe('pending');
    g.pending[0]!.open();
    await ok;
    const ac2 = new AbortController();
    const failed = add(b, 2, ac2.signal);
    await g.started(2);
    ac2.abort();
    g.pending[1]!.fail(new Error('disk full'));
    await expect(failed).rejects.toThrow('disk full');
  });

  it('an already aborted signal is refused before it queues', async () => {
    const b = new Batcher<number>({ commit: async () => {} });
    await expect(add(b, 1, AbortSignal.abort())).rejects.toBeInstanceOf(WithdrawnError);
    expect(b.pending).toBe(0);
  });

  it('onOutcome hears every commit, inFlightSince shows a commit that has not ended', async () => {
    const g = gate();
    const outcomes: string[] = [];
    const b = new Batcher({ commit: g.commit, maxBatch: 1, onOutcome: (o) => outcomes.push(o.ok ? 'ok' : String((o.error as Error).message)) });
    expect(b.inFlightSince).toBeUndefined();
    const before = Date.now();
    const a = add(b, 1);
    await g.started(1);
    expect(b.inFlightSince).toBeGreaterThanOrEqual(before);
    g.pending[0]!.open();
    await a;
    expect(b.inFlightSince).toBeUndefined();
    const c = add(b, 2);
    await g.started(2);
    g.pending[1]!.fail(new Error('gone'));
    await expect(c).rejects.toThrow('gone');
    expect(outcomes).toEqual(['ok', 'gone']);
  });
});

// Issue 22: ingest queues a Ticket (no Promise, AbortController or timer per request). One timer
// withdraws what is past its deadline; a ticket whose client is gone is withdrawn before its commit.
describe('Batcher tickets (deadline and gone, without a timer per request)', () => {
  const ticket = (item: number, o: { deadline?: number; gone?: () => boolean } = {}) => {
    const t = {
      item,
      deadline: o.deadline ?? Infinity,
      gone: o.gone ?? (() => false),
      outcome: undefined as Promise<unknown> | undefined,
      done: (_e?: unknown) => {},
    };
    t.outcome = new Promise((resolve) => (t.done = (e?: unknown) => resolve(e === undefined ? 'committed' : e instanceof WithdrawnError ? 'withdrawn' : String(e))));
    return t;
  };

  // While the first commit hangs, ticket 2 waits in the queue; what happens to it decides the second batch.
  it.each([
    ['deadline passes while it waits', { deadlineIn: 30 }, () => {}, 'withdrawn', [[1], [3]]],
    ['its client goes away while it waits', {}, (state: { gone: boolean }) => (state.gone = true), 'withdrawn', [[1], [3]]],
    ['neither', { deadlineIn: 3_600_000 }, () => {}, 'committed', [[1], [2, 3]]],
  ] as const)('%s', async (_, o, meanwhile, expected, batches) => {
    const g = gate();
    const b = new Batcher<number>({ commit: g.commit, lingerMs: 0 });
    const first = ticket(1);
    b.enqueue(first);
    await g.started(1);
    const state = { gone: false };
    const second = ticket(2, { deadline: 'deadlineIn' in o ? performance.now() + o.deadlineIn : Infinity, gone: () => state.gone });
    b.enqueue(second);
    meanwhile(state);
    if ('deadlineIn' in o && expected === 'withdrawn') expect(await second.outcome).toBe('withdrawn'); // before the first commit ends
    const third = ticket(3);
    b.enqueue(third);
    g.pending[0]!.open();
    await g.started(2);
    expect(g.batches).toEqual(batches);
    g.pending[1]!.open();
    expect([await first.outcome, await second.outcome, await third.outcome]).toEqual(['committed', expected, 'committed']);
    expect(b.pending).toBe(0);
  });

  it.each([
    ['past its deadline', { deadline: performance.now() - 1 }],
    ['gone', { gone: () => true }],
  ])('a ticket already %s is refused before it queues', async (_, o) => {
    const b = new Batcher<number>({ commit: async () => {} });
    const t = ticket(1, o);
    b.enqueue(t);
    expect(await t.outcome).toBe('withdrawn');
    expect(b.pending).toBe(0);
  });

  it('a deadline that passes after its commit started changes nothing: the commit answers', async () => {
    const g = gate();
    const b = new Batcher<number>({ commit: g.commit, lingerMs: 0 });
    const t = ticket(1, { deadline: performance.now() + 20 });
    b.enqueue(t);
    await g.started(1);
    await new Promise((r) => setTimeout(r, 40));
    expect(await settled(t.outcome!)).toBe('pending');
    g.pending[0]!.fail(new Error('disk full'));
    expect(await t.outcome).toBe('Error: disk full');
  });

  it('close() with only gone tickets queued ends (nothing to commit)', async () => {
    const g = gate();
    const b = new Batcher<number>({ commit: g.commit, lingerMs: 3_600_000 });
    const state = { gone: false };
    const t = ticket(1, { gone: () => state.gone });
    b.enqueue(t);
    state.gone = true;
    await b.close();
    expect([await t.outcome, g.batches]).toEqual(['withdrawn', []]);
  });
});
