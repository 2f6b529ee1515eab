// "A 2xx only after the events are on disk", read from the collector's own syscalls: under strace,
// every event answered 200 had its bytes written to the SQLite WAL and a sync of the WAL completed
// after that write, before the 200 was written to its socket. This holds whatever the design of the
// commit path (SQLite's synchronous=FULL, or a sync of our own) and fails for any that answers early.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { baseEnv } from '../../test/support/process.js';
import { killAll, startBin } from './support/bin.js';
import { request, waitUntil } from './support/http.js';
import { ackOrder } from './support/syscalls.js';

const dirs: string[] = [];
afterAll(() => {
  killAll();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const sock = (port: number) => `TCP:[127.0.0.1:7708->127.0.0.1:${port}]`;
const read = (pid: number, port: number, id: string) => `${pid} read(20<${sock(port)}>, "GET /acme-lib/1.0.0?event_id=${id} HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n", 65536) = 60`;
const wal = (pid: number, id: string) => `${pid} pwrite64(12</d/c.db-wal>, "\\r\\0\\0\\0\\1\\17\\270${id}\\0\\0", 4096, 32) = 4096`;
const sync = (pid: number, file = '/d/c.db-wal', ret = '0') => `${pid} fdatasync(12<${file}>) = ${ret}`;
const ok = (pid: number, port: number) => `${pid} writev(20<${sock(port)}>, [{iov_base="HTTP/1.1 200 OK\\r\\ncontent-length: 0\\r\\n\\r\\n", iov_len=38}], 1) = 38`;
const idOf = (s: string) => /event_id=([A-Za-z0-9-]+)/.exec(s)?.[1];

describe('ackOrder: reading the order of an ack from an strace log', () => {
  it.each([
    ['read, WAL write, sync, 200', [read(1, 9, 'ev-a'), wal(2, 'ev-a'), sync(2), ok(1, 9)], { acked: ['ev-a'], notWritten: [], notSynced: [] }],
    ['the 200 before the sync', [read(1, 9, 'ev-a'), wal(2, 'ev-a'), ok(1, 9), sync(2)], { acked: ['ev-a'], notWritten: [], notSynced: ['ev-a'] }],
    ['a sync from before the WAL write', [read(1, 9, 'ev-a'), sync(2), wal(2, 'ev-a'), ok(1, 9)], { acked: ['ev-a'], notWritten: [], notSynced: ['ev-a'] }],
    ['a sync that failed', [read(1, 9, 'ev-a'), wal(2, 'ev-a'), sync(2, '/d/c.db-wal', '-1 EIO (Input/output error)'), ok(1, 9)], { acked: ['ev-a'], notWritten: [], notSynced: ['ev-a'] }],
    ['a sync of the database file, not the WAL', [read(1, 9, 'ev-a'), wal(2, 'ev-a'), sync(2, '/d/c.db'), ok(1, 9)], { acked: ['ev-a'], notWritten: [], notSynced: ['ev-a'] }],
    ['never written to the WAL', [read(1, 9, 'ev-a'), sync(2), ok(1, 9)], { acked: ['ev-a'], notWritten: ['ev-a'], notSynced: [] }],
    [
      'a sync split by another thread counts once it has resumed with 0',
      [read(1, 9, 'ev-a'), wal(2, 'ev-a'), '2 fdatasync(12</d/c.db-wal> <unfinished ...>', read(1, 8, 'ev-b'), '2 <... fdatasync resumed>) = 0', ok(1, 9)],
      { acked: ['ev-a'], notWritten: [], notSynced: [] },
    ],
    [
      'a read split by another thread: its bytes come with the resumed line',
      ['1 read(20<' + sock(9) + '>,  <unfinished ...>', wal(2, 'ev-x'), '1 <... read resumed>"GET /acme-lib/1.0.0?event_id=ev-a HTTP/1.1\\r\\n\\r\\n", 65536) = 40', wal(2, 'ev-a'), sync(2), ok(1, 9)],
      { acked: ['ev-a'], notWritten: [], notSynced: [] },
    ],
    [
      'a sync still unfinished when the 200 goes out',
      [read(1, 9, 'ev-a'), wal(2, 'ev-a'), '2 fdatasync(12</d/c.db-wal> <unfinished ...>', ok(1, 9), '2 <... fdatasync resumed>) = 0'],
      { acked: ['ev-a'], notWritten: [], notSynced: ['ev-a'] },
    ],
    [
      'two connections: each 200 answers the request read on its own socket',
      [read(1, 9, 'ev-a'), read(1, 8, 'ev-b'), wal(2, 'ev-a'), sync(2), ok(1, 9), wal(2, 'ev-b'), ok(1, 8), sync(2)],
      { acked: ['ev-a', 'ev-b'], notWritten: [], notSynced: ['ev-b'] },
    ],
  ])('%s', (_name, lines, expected) => {
    expect(ackOrder(lines.join('\n'), idOf)).toEqual(expected);
  });
});

/** The PIDs of `pid`'s child processes. */
const children = (pid: number): number[] =>
  readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));

describe('the collector on SQLite, under strace', () => {
  it('answers 200 only after the WAL holding the event was synced, for every event of concurrent senders', async () => {
    execFileSync('strace', ['-V']); // strace must be installed (.ci/run installs it)
    const dir = mkdtempSync(join(tmpdir(), 'ibc-durable-'));
    dirs.push(dir);
    const log = join(dir, 'strace.log');
    const trace = ['strace', '-f', '-qq', '-yy', '-s', '4200', '-e', 'trace=read,write,writev,pwrite64,fdatasync,fsync', '-o', log, '--'];
    const c = await startBin(['--port', '0', '--rate-limit', '0', '--db', join(dir, 'c.db')], baseEnv(dir, { INSTALL_BEACON_TOKEN: 'durable-token-0123456789abcdef', DATABASE_URL: undefined }), dir, trace);
    const tag = Math.random().toString(36).slice(2, 10);
    const ids = Array.from({ length: 6 }, (_, s) => Array.from({ length: 15 }, (_, i) => `da-${tag}-${s}-${i}`));
    // Six senders at once, each one request after another: batches of several events.
    const statuses = await Promise.all(ids.map(async (mine) => {
      const got: number[] = [];
      for (const id of mine) got.push((await request(c.url, `/durable-lib/1.0.0/linux/x64?event_id=${id}`)).status);
      return got;
    }));
    expect(statuses.flat().filter((s) => s === 200)).toHaveLength(90);
    const collector = children(c.child.pid!)[0]!;
    process.kill(collector, 'SIGTERM');
    await waitUntil('strace to exit with the collector', () => c.child.exitCode !== null || c.child.signalCode !== null, 20_000);
    const order = ackOrder(readFileSync(log, 'utf8'), idOf);
    expect(order.acked.sort()).toEqual(ids.flat().sort());
    expect(order.notWritten).toEqual([]);
    expect(order.notSynced).toEqual([]);
  });
});
