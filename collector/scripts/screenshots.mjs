// Regenerates the dashboard pictures in docs/ (shown in the READMEs) from the
// browser tests: the same collector, the same ingested events, the same Chromium.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const r = spawnSync('npx', ['vitest', 'run', 'test/browser.test.ts'], { cwd: root, stdio: 'inherit', env: { ...process.env, SCREENSHOTS: fileURLToPath(new URL('../docs', import.meta.url)) } });
process.exit(r.status ?? 1);
