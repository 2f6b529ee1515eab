import { readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string };

// The tests Stryker runs against each mutant (npm run test:mutation): the
// table-driven unit tests of the pure core modules only. They run in memory
// (MemFs, injected env and probes), so a mutant costs milliseconds, not a
// spawned process; the integration suites test the same code through dist.
export default defineConfig({
  define: { __BEACON_VERSION__: JSON.stringify(pkg.version) },
  test: {
    // Every unit test file named after a core module (config.test.ts,
    // config-messages.test.ts, template-edges.test.ts, ...), except the two
    // that run real npm installs of packed fixtures (they test dist, not the
    // mutated source, and would cost a real install per mutant they cover).
    include: ['test/{config,optout,template,context,decide,marker,layout}*.test.ts'],
    exclude: ['test/marker-race.test.ts', 'test/layout-install.test.ts'],
  },
});
