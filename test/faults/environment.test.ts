import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AS_NOBODY, bound, config, expectClean, expectEvents, privacyCase, expectOnlyMarkerWritten, hookEnv, makeTree,
  NOBODY_UID, removeTrees, runCommand, runHook, setprivUnavailable, quiet, skipReason, SKIP_BOUND, snapshot, writeResults,
  type Tree, type TreeOptions, BIN,
} from './harness.js';
import { closeAll, httpServer, type FaultServer } from './servers.js';

// The machine the install runs on: missing or unwritable HOME, XDG and temp
// dirs, read-only packages, a UID with no passwd entry, odd INIT_CWD values,
// broken package.json files, closed stdout/stderr.

const TIMEOUT = 1000;
const trees: Tree[] = [];
let collector: FaultServer;
const noSetpriv = setprivUnavailable();

beforeAll(async () => {
  collector = await httpServer();
});
afterEach(() => {
  collector.requests.length = 0;
});
afterAll(async () => {
  await closeAll();
  removeTrees();
  writeResults('environment');
});

const url = () => `${collector.base}/e/{name}/{version}`;

function tree(options: TreeOptions = {}): Tree {
  const t = makeTree({ installBeacon: config(url(), 'inline', TIMEOUT), ...options });
  trees.push(t);
  return t;
}

/** Give the whole tree to the unprivileged UID, as an install run by that user would have it. */
function ownTree(t: Tree): void {
  for (const d of [t.root, t.app, t.nodeModules, t.pkg, t.home, t.tmp, join(t.app, 'package.json'), join(t.pkg, 'package.json')]) {
    try {
      chownSync(d, NOBODY_UID, NOBODY_UID);
    } catch {
      // a case removed that file on purpose
    }
  }
}

/** Run the hook and check the shared promises; `sends` says whether this case should report one event. */
async function check(t: Tree, sends: boolean, env: Record<string, string | undefined> = {}, wrap?: string[], markers: 0 | 1 | 'any' = 'any') {
  const before = snapshot(t.root);
  const r = await runHook(t, { env: hookEnv(t, env), wrap });
  expectClean(r, sends ? bound(TIMEOUT) : SKIP_BOUND, sends ? 'notice' : 'silent');
  await quiet(collector);
  expectEvents(collector.requests.length, sends ? 1 : 0);
  expectOnlyMarkerWritten(t, before, markers);
  return r;
}

describe('home, config and temp dirs', () => {
  it('HOME unset', async () => {
    const t = tree();
    await check(t, true, { HOME: undefined }, undefined, 1);
  });

  it('HOME points at a path that does not exist', async () => {
    const t = tree();
    await check(t, true, { HOME: join(t.root, 'no-such-home') }, undefined, 1);
  });

  it.skipIf(skipReason('HOME read-only', noSetpriv))('HOME read-only (another UID)', async () => {
    const t = tree();
    ownTree(t);
    chownSync(t.home, 0, 0);
    chmodSync(t.home, 0o555);
    await check(t, true, {}, AS_NOBODY, 1);
  });

  it('XDG dirs unwritable: XDG_* name a path under a regular file', async () => {
    const t = tree();
    const file = join(t.root, 'a-file');
    writeFileSync(file, '');
    const before = snapshot(t.root); // includes a-file
    const r = await runHook(t, {
      env: hookEnv(t, { XDG_CONFIG_HOME: join(file, 'config'), XDG_CACHE_HOME: join(file, 'cache'), XDG_DATA_HOME: join(file, 'data'), XDG_STATE_HOME: join(file, 'state'), XDG_RUNTIME_DIR: join(file, 'run') }),
    });
    expectClean(r, bound(TIMEOUT), 'notice');
    await quiet(collector);
    expectEvents(collector.requests.length, 1);
    expectOnlyMarkerWritten(t, before, 1);
  });

  it.skipIf(skipReason('XDG dirs read-only', noSetpriv))('XDG dirs read-only (another UID)', async () => {
    const t = tree();
    ownTree(t);
    chownSync(t.home, 0, 0);
    chmodSync(t.home, 0o555);
    await check(t, true, { XDG_CONFIG_HOME: t.home, XDG_CACHE_HOME: t.home, XDG_DATA_HOME: t.home, XDG_STATE_HOME: t.home }, AS_NOBODY, 1);
  });

  it('TMPDIR missing', async () => {
    const t = tree();
    await check(t, true, { TMPDIR: join(t.root, 'no-such-tmp') }, undefined, 1);
  });

  it('TMPDIR unset', async () => {
    const t = tree();
    await check(t, true, { TMPDIR: undefined }, undefined, 1);
  });
});

describe('users and permissions', () => {
  it.skipIf(skipReason('UID with no passwd entry', noSetpriv))('a UID with no passwd entry (setpriv --reuid)', async () => {
    const t = tree();
    ownTree(t);
    await check(t, true, {}, AS_NOBODY, 1);
  });

  it.skipIf(skipReason('package folder read-only', noSetpriv))('the package folder read-only (another UID): the marker lives in node_modules', async () => {
    const t = tree();
    ownTree(t);
    chownSync(t.pkg, 0, 0);
    chmodSync(t.pkg, 0o555);
    await check(t, true, {}, AS_NOBODY, 1);
  });

  it.skipIf(skipReason('node_modules read-only', noSetpriv))('node_modules and the package read-only (another UID): the postinstall sends once without a marker, and writes nothing in HOME', async () => {
    const t = tree();
    ownTree(t);
    for (const d of [t.pkg, t.nodeModules]) {
      chownSync(d, 0, 0);
      chmodSync(d, 0o555);
    }
    await check(t, true, {}, AS_NOBODY, 0);
    expect(readdirSync(t.home), 'nothing written in HOME').toEqual([]);
  });

  it.skipIf(skipReason('whole tree read-only', noSetpriv))('the whole tree, HOME and TMPDIR read-only (another UID)', async () => {
    const t = tree();
    for (const d of [t.pkg, t.nodeModules, t.app, t.home, t.tmp]) chmodSync(d, 0o555);
    await check(t, true, {}, AS_NOBODY, 0);
  });
});

describe('INIT_CWD and the root project', () => {
  it('no INIT_CWD', async () => {
    const t = tree();
    await check(t, true, { INIT_CWD: undefined }, undefined, 1);
  });

  it('no INIT_CWD: the root project opt-out is still found from the path', async () => {
    const t = tree({ rootPkgText: JSON.stringify({ name: 'x', installBeacon: { enabled: false } }) });
    await check(t, false, { INIT_CWD: undefined }, undefined, 0);
  });

  it('an INIT_CWD that does not exist', async () => {
    const t = tree();
    await check(t, true, { INIT_CWD: join(t.root, 'gone') }, undefined, 1);
  });

  it('a root package.json that is malformed JSON', async () => {
    const t = tree({ rootPkgText: '{"name": "x", "installBeacon": {"enabled": fal' });
    await check(t, true, {}, undefined, 1);
  });

  it('a root package.json that is a directory', async () => {
    const t = tree({ rootPkgText: 'dir' });
    await check(t, true, {}, undefined, 1);
  });

  it('no root package.json', async () => {
    const t = tree({ rootPkgText: null });
    await check(t, true, {}, undefined, 1);
  });
});

describe("the author's package.json", () => {
  const broken: Array<[string, TreeOptions]> = [
    ['missing', { pkgJsonText: null }],
    ['malformed JSON', { pkgJsonText: '{"name": "acme-lib", "installBeacon": ' }],
    ['empty', { pkgJsonText: '' }],
    ['JSON null', { pkgJsonText: 'null' }],
    ['an array', { pkgJsonText: '[1,2,3]' }],
    ['installBeacon is a number', { installBeacon: 42 }],
    ['installBeacon is an array', { installBeacon: ['https://example.com/'] }],
    ['installBeacon is true', { installBeacon: true }],
    ['installBeacon is null', { installBeacon: null }],
    ['installBeacon.url is a number', { installBeacon: { url: 42 } }],
    ['installBeacon.url is an object', { installBeacon: { url: { href: 'x' } } }],
    ['installBeacon.timeoutMs is a string', { installBeacon: { url: 'http://127.0.0.1:9/x', timeoutMs: '1000' } }],
    ['installBeacon.delivery is unknown', { installBeacon: { url: 'http://127.0.0.1:9/x', delivery: 'later' } }],
    ['no installBeacon and no URL argument', { installBeacon: undefined }],
  ];
  for (const [what, options] of broken) {
    it(`${what}: silent skip`, async () => {
      const t = tree(options);
      await check(t, false, {}, undefined, 0);
    });
  }

  it('a package.json that is a directory: silent skip', async () => {
    const t = tree({ pkgJsonText: null });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(t.pkg, 'package.json'));
    await check(t, false, {}, undefined, 0);
  });

  it('non-string name and version: sent as "unknown"', async () => {
    const t = tree({ pkgJsonText: JSON.stringify({ name: { a: 1 }, version: 7, installBeacon: config(url(), 'inline', TIMEOUT) }) });
    await check(t, true, {}, undefined, 1);
    expect(collector.requests[0]?.url).toBe('/e/unknown/unknown');
  });
});

describe('stdout and stderr that cannot be written', () => {
  // Each output below fails every write, the same way every time. A control
  // process proves the write error before the hook runs with that output; a
  // process that does not handle it exits 1 (checked by hand: Node 20).
  for (const kind of ['a pipe whose reader is gone', 'a read-only descriptor', '/dev/full'] as const) {
    it(`stdout and stderr are ${kind} (${BROKEN_CODE[kind]} on every write): exit 0, the event sent and recorded`, async () => {
      const t = tree();
      const out = brokenOutput(kind, t.tmp);
      try {
        expect(await writeError(out.fd, t), 'the write error this output gives').toBe(BROKEN_CODE[kind]);
        const before = snapshot(t.root);
        const r = await runHook(t, { stdio: ['ignore', out.fd, out.fd] });
        expectClean(r, bound(TIMEOUT), 'silent');
        await quiet(collector);
        expectEvents(collector.requests.length, 1);
        expectOnlyMarkerWritten(t, before, 1);
      } finally {
        closeSync(out.fd);
      }
    });
  }

  it('stdout and stderr closed (>&- 2>&-): Node reopens fds 1 and 2 on /dev/null, so this is the /dev/null case', async () => {
    const t = tree();
    const seen = join(t.tmp, 'fd2');
    const control = await runCommand(['bash', '-c', 'exec "$0" -e "require(\'fs\').writeFileSync(process.argv[1], require(\'fs\').readlinkSync(\'/proc/self/fd/2\'))" "$1" >&- 2>&-', process.execPath, seen], { cwd: t.pkg, env: hookEnv(t) });
    expect(control.code).toBe(0);
    expect(readFileSync(seen, 'utf8'), 'what fd 2 is in a Node started with it closed').toBe('/dev/null');
    const before = snapshot(t.root);
    const r = await runCommand(['bash', '-c', 'exec "$0" "$1" >&- 2>&-', process.execPath, BIN], { cwd: t.pkg, env: hookEnv(t) });
    expectClean(r, bound(TIMEOUT), 'silent');
    await quiet(collector);
    expectEvents(collector.requests.length, 1);
    expectOnlyMarkerWritten(t, before, 1);
  });
});

type Broken = 'a pipe whose reader is gone' | 'a read-only descriptor' | '/dev/full';
const BROKEN_CODE: Record<Broken, string> = { 'a pipe whose reader is gone': 'EPIPE', 'a read-only descriptor': 'EBADF', '/dev/full': 'ENOSPC' };

/**
 * An output descriptor every write to which fails. The pipe is a FIFO: opened
 * read-write (Linux allows it), then write-only, then the read-write end is
 * closed, so the write end has no reader before any process starts: EPIPE on
 * the first write, no race.
 */
function brokenOutput(kind: Broken, dir: string): { fd: number } {
  if (kind === 'a read-only descriptor') {
    const file = join(dir, 'read-only');
    writeFileSync(file, '');
    return { fd: openSync(file, 'r') };
  }
  if (kind === '/dev/full') return { fd: openSync('/dev/full', 'w') };
  const fifo = join(dir, 'fifo');
  const made = spawnSync('mkfifo', [fifo]);
  expect(made.status, 'mkfifo').toBe(0);
  const reader = openSync(fifo, 'r+');
  const fd = openSync(fifo, 'w');
  closeSync(reader);
  return { fd };
}

/** The error code a Node process gets writing to stderr on `fd` (thrown or emitted). */
async function writeError(fd: number, t: Tree): Promise<string> {
  const file = join(t.tmp, `write-error-${fd}`);
  const code = `const fs = require('fs');
    const rec = (e) => e && fs.writeFileSync(process.argv[1], String(e.code));
    process.stderr.on('error', rec);
    try { process.stderr.write('x\\n', rec); } catch (e) { rec(e); }`;
  const r = await runCommand([process.execPath, '-e', code, file], { cwd: t.tmp, env: hookEnv(t), stdio: ['ignore', fd, fd] });
  expect(r.code).toBe(0);
  return readFileSync(file, 'utf8');
}

privacyCase(trees);
