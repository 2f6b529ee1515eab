'use strict';
// Preloaded with `node --require <this file> <script>` by the bench (peak memory,
// what was loaded) and by test/size.test.ts (the opt-out path's size budget).
// On exit it writes, to $LOAD_PROBE_DIR/<pid>.json: the process's peak RSS,
// its CPU time (user + system), the files in require.cache (other than this
// one) and the Node built-in modules loaded. Keyed by pid because a detached
// child inherits the environment.
const fs = require('fs');
const path = require('path');

const dir = process.env.LOAD_PROBE_DIR;
if (dir) {
  process.on('exit', () => {
    const files = Object.keys(require.cache).filter((f) => f !== __filename);
    const builtins = (process.moduleLoadList || []).filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13));
    const usage = process.resourceUsage();
    const report = { pid: process.pid, maxRssKb: usage.maxRSS, cpuUs: usage.userCPUTime + usage.systemCPUTime, files, builtins };
    try {
      fs.writeFileSync(path.join(dir, `${process.pid}.json`), JSON.stringify(report));
    } catch {
      // The probe must never change the outcome of the process it watches.
    }
  });
}
