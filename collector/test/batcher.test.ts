import { describe, expect, it } from 'vitest';
import { Batcher, ClosedError, QueueFullError } from '../src/batcher.js';

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
    const acks = [1, 2, 3].map((i) => b.add(i));
    await g.started(1);
    expect(g.batches).toEqual([[1, 2, 3]]);
    g.pending[0]!.open();
    await Promise.all(acks);
  });

  it('time trigger: a lone event commits after lingerMs', async () => {
    const g = gate();
    const b = new Batcher({ commit: g.commit, maxBatch: 100, lingerMs: 5 });
    const ack = b.add(7);
    await g.started(1);
    expect(g.batches).toEqual([[7]]);
    g.pending[0]!.open();
    await ack;
  });

  it('an event is acknowledged only after its commit returned', async () => {
    const g = gate();
    const b = new Batcher({ commit: g.commit, maxBatch: 1 });
    const ack = b.add(1);
    await g.started(1);
    expect(await settled(ack)).toBe('pending');
    g.pending[0]!.open();
    expect(await settled(ack)).toBe('resolved');
  });

  it('events that arrive during a commit form the next batch, which starts when the first ends', async () => {
    const g = gate();
    const b = new Batcher({ commit: g.commit, maxBatch: 100, lingerMs: 1 });
    const first = b.add(1);
    await g.started(1);
    const next = [2, 3, 4, 5].map((i) => b.add(i));
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
    const acks = [1, 2, 3].map((i) => b.add(i));
    await g.started(2);
    expect(g.batches).toEqual([[1], [2]]);
    g.pending[1]!.open();
    await g.started(3);
    expect(g.batches[2]).toEqual([3]);
    g.pending[0]!.open();
    g.pending[2]!.open();
    await Promise.all(acks);
  });

  it('a failed commit rejects every event in it; the next batch commits (recovery)', async () => {
    const g = gate();
    const b = new Batcher({ commit: g.commit, maxBatch: 2, lingerMs: 1 });
    const failed = [b.add(1), b.add(2)];
    await g.started(1);
    g.pending[0]!.fail(new Error('database down'));
    for (const p of failed) await expect(p).rejects.toThrow('database down');
    const ok = [b.add(3), b.add(4)];
    await g.started(2);
    g.pending[1]!.open();
    await Promise.all(ok);
    expect(b.stats).toMatchObject({ commits: 1, failures: 1, items: 2 });
  });

  it('a full queue refuses at once (the database is slow or gone)', async () => {
    const g = gate();
    const b = new Batcher({ commit: g.commit, maxBatch: 1, maxQueue: 2 });
    const inFlight = b.add(1);
    await g.started(1);
    const queued = [b.add(2), b.add(3)];
    await expect(b.add(4)).rejects.toBeInstanceOf(QueueFullError);
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
    const acks = [1, 2, 3].map((i) => b.add(i));
    await b.close();
    await Promise.all(acks);
    expect(committed.flat()).toEqual([1, 2, 3]);
    await expect(b.add(4)).rejects.toBeInstanceOf(ClosedError);
  });

  // Issue 22: the writer must not wait for the main thread to answer a batch before it gets the next one.
  it.each([
    ['committed', (g: ReturnType<typeof gate>) => g.pending[0]!.open()],
    ['failed', (g: ReturnType<typeof gate>) => g.pending[0]!.fail(new Error('disk'))],
  ])('when a batch has %s, the events queued meanwhile are handed to commit before its first request hears of it', async (_, end) => {
    const g = gate();
    const b = new Batcher({ commit: g.commit, lingerMs: 0 });
    const first = b.add(1);
    await g.started(1);
    const later = [b.add(2), b.add(3)];
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
});
