import { execFile, spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { baseEnv, TempDirs } from '../../test/support/process.js';
import { BIN, killAll, startBin } from './support/bin.js';
import { request, waitUntil } from './support/http.js';
import { load } from './support/load.js';

// Operations (issue 20 items 5-7, and issue 21's start-up findings), against the built collector as a real
// process, with curl as the client where a client this repository did not write fits.

const run = promisify(execFile);
const temps = new TempDirs();
const TOKEN = 'ops-token-0123456789abcdef';
const env = (extra: Record<string, string | undefined> = {}) => baseEnv(temps.make('ibc-home-'), { INSTALL_BEACON_TOKEN: undefined, DATABASE_URL: undefined, ...extra });
const db = () => join(temps.make('ibc-ops-'), 'events.db');
/** curl -s -i ...: the status, the headers (lower-cased names) and the body. */
const curl = async (...args: string[]) => {
  const { stdout } = await run('curl', ['-s', '-i', '--max-time', '20', ...args]);
  const [head, ...body] = stdout.split('\r\n\r\n');
  const lines = head!.split('\r\n');
  const headers = lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()] as const);
  return { status: Number(lines[0]!.split(' ')[1]), header: (n: string) => headers.filter(([k]) => k === n).map(([, v]) => v), body: body.join('\r\n\r\n') };
};
const cookieOf = (setCookie: string[]) => /ibc_session=([^;]*)/.exec(setCookie.join('\n'))?.[1];

afterAll(() => {
  killAll();
  temps.cleanup();
});

describe('the read token stays out of logs (issue 20 item 5)', () => {
  it('a token from INSTALL_BEACON_TOKEN is never printed; the dashboard line carries no token', async () => {
    const c = await startBin(['--port', '0', '--db', db()], env({ INSTALL_BEACON_TOKEN: TOKEN }));
    try {
      expect(c.lines.filter((l) => l.includes(TOKEN))).toEqual([]);
      expect(c.lines).toContain(`dashboard: ${c.url}/ (sign in with the read token)`);
      expect(c.lines).toContain('read token: the one in INSTALL_BEACON_TOKEN (not printed)');
    } finally {
      await c.stop();
    }
  });

  it('a generated token is printed by the start that generated it only; `token` prints it on request', async () => {
    const file = db();
    const first = await startBin(['--port', '0', '--db', file], env());
    await first.stop();
    const printed = first.lines.filter((l) => l.startsWith('read token: '));
    expect(printed).toHaveLength(1);
    const token = /^read token: ([\w-]{32}) \(generated now/.exec(printed[0]!)![1]!;
    const second = await startBin(['--port', '0', '--db', file], env());
    try {
      expect(second.lines.filter((l) => l.includes(token))).toEqual([]);
      expect(second.lines.filter((l) => l.startsWith('read token: '))).toEqual(['read token: stored in the database (printed when it was generated; `install-beacon-collector token` prints it)']);
      expect((await request(second.url, '/api/downloads/point/last-day/x', { headers: { authorization: `Bearer ${token}` } })).status).toBe(404);
    } finally {
      await second.stop();
    }
    expect((await run(process.execPath, [BIN, 'token', '--db', file])).stdout).toBe(`read token: ${token}\n`);
  });

  it('sign-in is a POST of the form (curl -d token=...); a token in the address is refused and sets no cookie', async () => {
    const c = await startBin(['--port', '0', '--db', db()], env({ INSTALL_BEACON_TOKEN: TOKEN }));
    try {
      const form = await curl(`${c.url}/?package=acme-lib`);
      expect(form.status).toBe(401);
      expect(form.body).toContain('<form method="post" action="/">');
      const inAddress = await curl(`${c.url}/?token=${TOKEN}&package=acme-lib`);
      expect([inAddress.status, inAddress.header('set-cookie')]).toEqual([401, []]);
      expect(inAddress.body).toContain('A token in the address is not accepted');
      expect(inAddress.body).not.toContain(TOKEN);
      const signIn = await curl('-d', `token=${TOKEN}&package=acme-lib`, `${c.url}/`);
      expect([signIn.status, signIn.header('location')]).toEqual([303, ['/?package=acme-lib']]);
      const cookie = cookieOf(signIn.header('set-cookie'))!;
      expect(cookie).not.toContain(TOKEN);
      expect((await curl('-H', `cookie: ibc_session=${cookie}`, `${c.url}/`)).status).toBe(200);
    } finally {
      await c.stop();
    }
  });
});

describe('sessions and wrong tokens (issue 20 item 6)', () => {
  it('two sign-ins at once get two cookies; sign-out is a POST that clears the cookie', async () => {
    const c = await startBin(['--port', '0', '--db', db()], env({ INSTALL_BEACON_TOKEN: TOKEN }));
    try {
      const [a, b] = await Promise.all([curl('-d', `token=${TOKEN}`, `${c.url}/`), curl('-d', `token=${TOKEN}`, `${c.url}/`)]);
      const [ca, cb] = [cookieOf(a.header('set-cookie')), cookieOf(b.header('set-cookie'))];
      expect(ca).toMatch(/^\d+\.[\w-]{22}\.[\w-]{43}$/);
      expect(cb).not.toBe(ca);
      const page = await curl('-H', `cookie: ibc_session=${ca}`, `${c.url}/`);
      expect(page.status).toBe(200);
      const out = await curl('-X', 'POST', '-H', `cookie: ibc_session=${ca}`, `${c.url}/sign-out`);
      expect([out.status, out.header('location')]).toEqual([303, ['/']]);
      expect(out.header('set-cookie')).toEqual(['ibc_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0']);
    } finally {
      await c.stop();
    }
  });

  it('after 10 wrong tokens a sender gets 429 for any token, right or wrong, for the API and the form; another sender is still served', async () => {
    const c = await startBin(['--port', '0', '--db', db()], env({ INSTALL_BEACON_TOKEN: TOKEN }));
    try {
      const api = `${c.url}/api/downloads/point/last-day/acme-lib`;
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) statuses.push((await curl('-H', `authorization: Bearer wrong-${i}-0123456789abcdef`, api)).status);
      expect(statuses).toEqual([...Array(10).fill(401), 429, 429]);
      const right = await curl('-H', `authorization: Bearer ${TOKEN}`, api);
      expect([right.status, right.header('retry-after')]).toEqual([429, ['60']]);
      expect((await curl('-d', `token=${TOKEN}`, `${c.url}/`)).status).toBe(429);
      // 127.0.0.2 is another sender on the loopback interface.
      expect((await curl('--interface', '127.0.0.2', '-H', `authorization: Bearer ${TOKEN}`, api)).status).toBe(404);
    } finally {
      await c.stop();
    }
  });
});

describe('start-up and files (issue 21, "also found")', () => {
  it('a second collector on a busy port exits 1 at once, with SQLite', async () => {
    const c = await startBin(['--port', '0', '--db', db()], env());
    try {
      const second = spawn(process.execPath, [BIN, '--port', new URL(c.url).port, '--db', db()], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      second.stderr.on('data', (d) => (err += d));
      const code = await new Promise<number | null>((resolve) => {
        const t = setTimeout(() => {
          second.kill('SIGKILL');
          resolve(-1);
        }, 15_000);
        second.once('exit', (n) => (clearTimeout(t), resolve(n)));
      });
      expect([code, err]).toEqual([1, expect.stringContaining('EADDRINUSE')]);
    } finally {
      await c.stop();
    }
  });

  it('the database, its -wal and -shm are created readable by their owner only (0600)', async () => {
    const file = db();
    const c = await startBin(['--port', '0', '--db', file], env());
    try {
      expect((await request(c.url, '/acme-lib/1.0.0/linux/x64?event_id=mode-1')).status).toBe(200);
      expect(['', '-wal', '-shm'].map((s) => (statSync(file + s).mode & 0o777).toString(8))).toEqual(['600', '600', '600']);
    } finally {
      await c.stop();
    }
  });
});

describe('backup while the collector runs (issue 20 item 7)', () => {
  it('`backup --db FILE OUT` under concurrent ingest: the copy opens, checks ok, and holds every event acknowledged before it began', async () => {
    const dir = temps.make('ibc-backup-');
    const file = join(dir, 'events.db');
    const c = await startBin(['--port', '0', '--db', file, '--rate-limit', '0'], env());
    try {
      let stop = false;
      const before: string[] = [];
      const running = load(c.url, { workers: 8, prefix: 'bk', stop: () => stop });
      await waitUntil('2000 events acknowledged', async () => (await request(c.url, '/healthz')).status === 200 && (await countOf(file)) >= 2000, 60_000);
      // What was acknowledged before the backup began: read from the database itself (acknowledged = committed).
      before.push(...idsIn(file));
      const out = join(dir, 'copy.db');
      const r = await run(process.execPath, [BIN, 'backup', '--db', file, out]);
      stop = true;
      const result = await running;
      expect(r.stdout).toMatch(new RegExp(`^backup: ${out.replace(/[.]/g, '\\.')} \\(\\d+ raw events, \\d+ bytes\\)\\n$`));
      const copy = new Database(out, { readonly: true });
      try {
        expect(copy.pragma('integrity_check', { simple: true })).toBe('ok');
        const ids = new Set((copy.prepare('SELECT event_id FROM events').all() as { event_id: string }[]).map((x) => x.event_id));
        expect(before.filter((id) => !ids.has(id))).toEqual([]);
        expect(ids.size).toBeGreaterThanOrEqual(before.length);
        expect(ids.size).toBeLessThanOrEqual(result.acked.length);
        // The copy is consistent: its rollups count exactly its raw events.
        expect((copy.prepare("SELECT sum(count) AS n FROM daily WHERE field = '' AND value = ''").get() as { n: number }).n).toBe(ids.size);
      } finally {
        copy.close();
      }
      expect(statSync(out).mode & 0o777).toBe(0o600);
      expect(result.acked.length).toBeGreaterThan(before.length);
    } finally {
      await c.stop();
    }
  });
});

function countOf(file: string): number {
  const d = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return (d.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
  } finally {
    d.close();
  }
}
function idsIn(file: string): string[] {
  const d = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return (d.prepare('SELECT event_id FROM events').all() as { event_id: string }[]).map((x) => x.event_id);
  } finally {
    d.close();
  }
}
