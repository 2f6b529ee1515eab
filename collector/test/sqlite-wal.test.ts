// Issue 22: the SQLite writer's commit does no more than write its WAL frames and fsync them.
// - no checkpoint inside a commit (the worker's checkpointer thread, or the writer between commits, runs them),
//   and the WAL still stays bounded;
// - the file watch (a commit into a deleted file must fail) does not stat the WAL per commit (Linux).
// Real SQLite files; what is asserted is read from the files (the wal-index header in the -shm), never a time.
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileWatch, openSqlite, walIndex, WAL_SIZE_LIMIT, type SqliteOptions } from '../src/storage/sqlite.js';
import { CHECKPOINT_AT, openSqliteInWorker, WAL_BOUND } from '../src/storage/sqlite-worker.js';
import type { NewEvent, Storage } from '../src/storage/types.js';
import { BIN } from './support/bin.js';
import { waitUntil } from './support/http.js';

let dir: string;
let n = 0;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ibc-wal-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let id = 0;
/** A batch of `k` events of one package with fresh event ids (each event writes its rows and index entries). */
const batch = (k: number): NewEvent[] =>
  Array.from({ length: k }, () => ({ package: 'wal-lib', eventId: `e-${String(++id).padStart(8, '0')}`, receivedAt: Date.UTC(2026, 11, 7, 12), vars: { version: `1.${id % 7}.0`, platform: 'linux', pm: 'npm' } }));

/** Commits batches until the WAL has been written past `frames` frames in all; returns the largest WAL length seen after a commit and the frames written. */
async function writeFrames(s: Storage, file: string, frames: number): Promise<{ most: number; written: number; backfilledSeen: boolean }> {
  const wal = walIndex(file);
  let written = 0;
  let last = wal().frames;
  let most = last;
  let backfilledSeen = false;
  while (written < frames) {
    await s.insertBatch(batch(24));
    const now = wal();
    written += now.frames >= last ? now.frames - last : now.frames; // a WAL that started over: its frames are new
    last = now.frames;
    most = Math.max(most, now.frames);
    backfilledSeen ||= now.backfilled > 0;
  }
  return { most, written, backfilledSeen };
}

describe('SQLite checkpoints, read from the wal-index header', () => {
  const cases: Array<[string, SqliteOptions, boolean]> = [
    // SQLite's default: the commit that takes the WAL past 1000 frames checkpoints it (the WAL never gets much longer).
    ['auto: commits checkpoint the WAL themselves', { checkpoints: 'auto' }, true],
    // The worker's writer: no commit ever copies a frame into the database file.
    ['external: no commit checkpoints, the WAL only grows', { checkpoints: 'external' }, false],
  ];
  it.each(cases)('%s', async (_name, options, checkpointed) => {
    const file = join(dir, `ckpt-${++n}.db`);
    const s = openSqlite(file, undefined, options);
    try {
      await s.migrate();
      const r = await writeFrames(s, file, 3 * CHECKPOINT_AT);
      expect(r.backfilledSeen || r.most < r.written).toBe(checkpointed);
      if (!checkpointed) expect(walIndex(file)()).toEqual({ frames: r.most, backfilled: 0 });
      // What the caller's own checkpoint does: every frame into the database file, nothing lost.
      const [busy, log, done] = s.checkpoint();
      expect([busy, done]).toEqual([0, log]);
      expect((await s.events({ since: 0, afterId: 0, limit: 1_000_000 })).length).toBeGreaterThan(0);
    } finally {
      await s.close();
    }
  });

  it('in the worker, the WAL stays bounded (checkpointer thread, then the writer between commits) and starts over', async () => {
    const file = join(dir, `worker-${++n}.db`);
    const s = openSqliteInWorker(file, BIN);
    try {
      await s.migrate();
      const before = id;
      // Past CHECKPOINT_AT frames and short of WAL_BOUND, only the checkpointer thread checkpoints (this writer's commits never do).
      const wal = walIndex(file);
      while (wal().frames < CHECKPOINT_AT + 100) await s.insertBatch(batch(24));
      await waitUntil('the checkpointer thread to checkpoint', () => wal().backfilled > 0);
      expect(wal().frames).toBeLessThan(WAL_BOUND);
      const r = await writeFrames(s, file, 3 * WAL_BOUND);
      // One batch past the bound at most (the writer checkpoints after the commit that reached it; the next commit starts over).
      expect(r.most).toBeLessThan(WAL_BOUND + 200);
      expect(r.most).toBeLessThan(r.written);
      expect(statSync(`${file}-wal`).size).toBeLessThanOrEqual(WAL_SIZE_LIMIT);
      expect((await s.events({ since: 0, afterId: 0, limit: 1_000_000 })).length).toBe(id - before);
    } finally {
      await s.close();
    }
    // The last connection closed checkpoints everything and removes the WAL, as SQLite does.
    expect(existsSync(`${file}-wal`)).toBe(false);
  }, 120_000);
});

describe('the file watch does not stat the WAL per commit', () => {
  const linux = existsSync('/proc/self/fd');
  it.skipIf(!linux)('on Linux, each check stats the database file only; the WAL is watched through /proc/self/fd', async () => {
    const file = join(dir, `watch-${++n}.db`);
    const s = openSqlite(file);
    await s.migrate();
    const statted: string[] = [];
    const watch = fileWatch(file, (path) => {
      statted.push(path);
      return statSync(path, { bigint: true, throwIfNoEntry: false });
    });
    const atOpen = statted.length;
    for (let i = 0; i < 3; i++) {
      await s.insertBatch(batch(2));
      watch.check();
    }
    expect(statted.slice(atOpen)).toEqual([file, file, file]);
    rmSync(`${file}-wal`);
    expect(() => watch.check()).toThrow(/-wal is no longer the one opened \(deleted\)/);
    watch.close();
    await s.close();
  });
});
