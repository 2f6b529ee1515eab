import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseEnv, TempDirs } from '../../test/support/process.js';
import { canonicalArch, canonicalPlatform } from '../src/storage/platforms.js';
import { killAll, startBin, type Proc } from './support/bin.js';
import { request } from './support/http.js';

// A real outside client: the Python function from Scarf's custom-telemetry page (requests.get of
// FILE_PACKAGE_NAME?version=...&platform=...&python=...&arch=...), run by /usr/bin/python3 against
// the built collector with a route for it. Every variable it sends is stored as sent, and the
// platform and arch breakdowns count Python's spellings under Node's names.

const run = promisify(execFile);
const temps = new TempDirs();
const TOKEN = 'python-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}` };
const PYTHON = '/usr/bin/python3';
const hasRequests = existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import requests'], { stdio: 'ignore' }).status === 0;
const ROUTE = 'acme-py=/acme-py?version={version}&platform={platform}&python={python}&arch={arch}';

// The page's function, as a library would ship it (errors swallowed: telemetry must never break the
// caller); it prints what it sent so the test can compare.
const SCRIPT = `
import json, platform, sys
import requests

ENDPOINT = sys.argv[1]

def send_telemetry(version):
    sent = {"version": version, "platform": platform.system(), "python": platform.python_version(), "arch": platform.machine()}
    try:
        requests.get(f"{ENDPOINT}/acme-py?version={sent['version']}&platform={sent['platform']}&python={sent['python']}&arch={sent['arch']}", timeout=10)
    except Exception:
        pass
    return sent

print(json.dumps(send_telemetry("1.4.2")))
`;

let c: Proc;
beforeAll(async () => {
  if (!hasRequests) return;
  c = await startBin(['--port', '0', '--db', join(temps.make('ibc-python-'), 'events.db'), '--route', ROUTE], baseEnv(temps.make('ibc-home-'), { INSTALL_BEACON_TOKEN: TOKEN, DATABASE_URL: undefined }));
}, 60_000);
afterAll(async () => {
  await c?.stop();
  killAll();
  temps.cleanup();
});

describe("Scarf's custom-telemetry Python function against a real collector", () => {
  it.skipIf(!hasRequests)(`stores every variable it sends, read back through the API${hasRequests ? '' : ' (skipped: /usr/bin/python3 has no requests module)'}`, async () => {
    const { stdout } = await run(PYTHON, ['-c', SCRIPT, c.url]);
    const sent = JSON.parse(stdout) as Record<string, string>;
    // Acknowledged means committed: the event is there once the request has been answered.
    const events = await request(c.url, '/api/events.ndjson', { headers: auth });
    const lines = events.body.trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
    expect(lines).toHaveLength(1);
    const { received_at: _at, ...stored } = lines[0]!;
    expect(stored).toEqual({ package: 'acme-py', ...sent });
    // The breakdowns: the variable of its own, and the platform and arch under Node's names.
    const breakdown = async (field: string) => JSON.parse((await request(c.url, `/api/breakdown/${field}/last-day/acme-py`, { headers: auth })).body).counts as Record<string, number>;
    expect(await breakdown('python')).toEqual({ [sent.python!]: 1 });
    expect(await breakdown('platform')).toEqual({ [canonicalPlatform(sent.platform!)]: 1 });
    expect(await breakdown('arch')).toEqual({ [canonicalArch(sent.arch!)]: 1 });
    expect(canonicalPlatform(sent.platform!)).toBe(process.platform);
  });
});
