import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadResult, RuntimeResult } from './runtime.js';

// Turns one run's results into BENCHMARKS.md and docs/bench.svg.

export interface Row {
  id: string;
  median: number;
  p25: number;
  p75: number;
  max: number;
  n: number;
  /** median / median of `node -e 0` in the same rounds. */
  ratio: number;
  /** Median over rounds of (this run / the floor's run in the same round). */
  paired: number;
  /** Raw samples, in round order. */
  samples: number[];
  notes: string[];
}

export interface Results {
  started: string;
  finished: string;
  machine: {
    cpu: string;
    cores: number;
    memGb: number;
    os: string;
    node: string;
    npm: string;
    loadBefore: number[];
    loadAfter: number[];
    extraCa: string;
  };
  rounds: { hook: number; slow: number; install: number };
  hook: Row[];
  install: Row[];
  runtime: RuntimeResult;
  timeoutMs: number;
  memory: { id: string; maxRssMb: number; cpuMs: number; files: string[]; jsBytes: number; builtins: number }[];
  size: {
    dist: { file: string; bytes: number }[];
    scarfReport: number;
    /** `npm pack --dry-run --json` of each package's tarball (absent in runs before 2026-11-26). */
    packages?: { ib: PackSize; scarf: PackSize };
    /** What reportInstall's host process loads (absent in runs before 2026-11-26). */
    runtime?: LoadResult[];
  };
}

const WHAT: Record<string, string> = {
  floor: '`node -e 0` (the floor)',
  'floor.slow': '`node -e 0` (the floor, in the slow subjects\' rounds)',
  'ref.install.scripts': 'reference fixture whose postinstall is `node -e 0`, with scripts',
  'ref.spawn': 'reference: a script that reads one file and spawns a detached child',
  'ref.get': 'reference: a script that makes one http GET to the local endpoint',
  'ib.optout': 'install-beacon, opt-out (`DO_NOT_TRACK=1`)',
  'ib.skip': "install-beacon, self-install skip (author's own repo)",
  'ib.bg.local': 'install-beacon, background send, local endpoint',
  'ib.bg.hole': 'install-beacon, background send, black hole',
  'ib.inline.local': 'install-beacon, inline send, local endpoint',
  'ib.inline.hole': 'install-beacon, inline send, black hole',
  'ib.bg.fields': 'install-beacon, background send, local endpoint, template also naming `{direct}` and `{libc_version}`',
  'ib.inline.fields': 'install-beacon, inline send, local endpoint, template also naming `{direct}` and `{libc_version}`',
  'scarf.optout': '@scarf/scarf, opt-out (`DO_NOT_TRACK=1`)',
  'scarf.send': '@scarf/scarf, send, local endpoint',
  'scarf.hole': '@scarf/scarf, send, black hole',
  'ib.install.scripts': 'install-beacon fixture (delivery auto = inline here), with scripts',
  'ib.install.ignore': 'install-beacon fixture, `--ignore-scripts`',
  'ib.bg.install.scripts': 'install-beacon fixture (delivery background), with scripts',
  'scarf.install.scripts': '@scarf/scarf fixture, with scripts',
  'scarf.install.ignore': '@scarf/scarf fixture, `--ignore-scripts`',
};

const ms = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? 'n/a' : v >= 100 ? v.toFixed(0) : v.toFixed(1));
const x = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? 'n/a' : `${v.toFixed(v < 10 ? 2 : 1)}×`);
const signed = (v: number) => (v < 0 ? `−${ms(-v)}` : `+${ms(v)}`);
const kb = (bytes: number) => `${bytes.toLocaleString('en-US')} B`;

export interface PackSize {
  packed: number;
  unpacked: number;
  files: number;
}

export interface Verdict {
  target: string;
  measured: string;
  met: boolean;
}

/** "Within its current cost": the per-round ratio's noise here is a few percent. */
const FIELDS_LIMIT = 1.02;

export function verdicts(r: Results): Verdict[] {
  const h = (id: string) => r.hook.find((row) => row.id === id)!;
  const i = (id: string) => r.install.find((row) => row.id === id)!;
  const floor = h('floor');
  const out: Verdict[] = [];
  const ratio = (id: string, limit: number, label: string) => {
    const row = h(id);
    out.push({
      target: `${label} ≤ ${limit}× \`node -e 0\``,
      measured: `${x(row.paired)} per round (ratio of medians ${x(row.ratio)}: ${ms(row.median)} ms vs ${ms(floor.median)} ms)`,
      met: row.paired <= limit,
    });
  };
  ratio('ib.optout', 1.05, 'opt-out');
  ratio('ib.skip', 1.05, 'self-install skip');
  ratio('ib.bg.local', 1.15, 'background send, local endpoint');
  ratio('ib.bg.hole', 1.15, 'background send, black hole');
  ratio('ib.inline.local', 1.3, 'inline send, local endpoint');
  // Issue 14: naming {direct} and {libc_version} keeps a send within its cost without them (same rounds, run by run).
  const fields = (id: string, base: string, label: string) => {
    const [a, b] = [h(id), h(base)];
    const paired = med(a.samples.map((v, k) => v / b.samples[k]!));
    const cpu = (m: string) => r.memory.find((row) => row.id === m)?.cpuMs;
    const [ca, cb] = [cpu(id), cpu(base)];
    out.push({
      target: `${label}, template also naming \`{direct}\` and \`{libc_version}\` ≤ ${FIELDS_LIMIT}× the same send without them`,
      measured: `${x(paired)} per round (${ms(a.median)} ms vs ${ms(b.median)} ms); CPU time under the probe ${ca !== undefined && cb !== undefined ? `${x(ca / cb)} (${ms(ca)} vs ${ms(cb)} ms)` : 'n/a'}`,
      met: paired <= FIELDS_LIMIT,
    });
  };
  fields('ib.bg.fields', 'ib.bg.local', 'background send');
  fields('ib.inline.fields', 'ib.inline.local', 'inline send');
  const hole = h('ib.inline.hole');
  const slowFloor = h('floor.slow');
  out.push({
    target: `inline send, black hole ends within timeoutMs + 100 ms (${r.timeoutMs + 100} ms), spawn to exit`,
    measured: `median ${ms(hole.median)} ms (max ${ms(hole.max)} ms); less the median Node start in the same rounds (${ms(slowFloor.median)} ms): ${ms(hole.median - slowFloor.median)} ms`,
    met: hole.median <= r.timeoutMs + 100,
  });
  const d = (a: string) => addedBy(r, a, 'ib.install.ignore');
  const [inl, bg, ref] = [d('ib.install.scripts'), d('ib.bg.install.scripts'), d('ref.install.scripts')];
  out.push({
    target: '`npm install` grows by ≤ one Node start',
    measured: `inline (auto here): ${signed(inl.ms)} ms = ${inl.starts.toFixed(2)} Node starts; background: ${signed(bg.ms)} ms = ${bg.starts.toFixed(2)}; a postinstall of only \`node -e 0\`: ${signed(ref.ms)} ms = ${ref.starts.toFixed(2)} (medians of per-round differences)`,
    met: inl.starts <= 1,
  });
  return out;
}

function notes(rows: Row[]): string {
  const lines = rows.flatMap((row) => row.notes.map((n) => `- ${WHAT[row.id] ?? row.id}: ${n}.`));
  return lines.length ? `\n\n${lines.join('\n')}` : '';
}

/** What `a` adds over `b` in the same rounds: median of per-round differences, in ms and in Node starts (that round's floor). */
export function addedBy(r: Results, a: string, b: string): { ms: number; starts: number } {
  const get = (id: string) => r.install.find((row) => row.id === id)!.samples;
  const [sa, sb, sf] = [get(a), get(b), get('floor')];
  const diffs = sa.map((v, k) => v - sb[k]!);
  return { ms: med(diffs), starts: med(diffs.map((v, k) => v / sf[k]!)) };
}

function med(values: number[]): number {
  const v = [...values].sort((p, q) => p - q);
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

function hookTable(r: Results): string {
  const lines = ['| subject | median ms | p25–p75 ms | max ms | × `node -e 0`, per round | × `node -e 0`, ratio of medians |', '|---|---:|---:|---:|---:|---:|'];
  for (const row of r.hook) lines.push(`| ${WHAT[row.id] ?? row.id} | ${ms(row.median)} | ${ms(row.p25)}–${ms(row.p75)} | ${ms(row.max)} | ${x(row.paired)} | ${x(row.ratio)} |`);
  return lines.join('\n') + notes(r.hook);
}

function installTable(r: Results): string {
  const lines = ['| subject | median ms | p25–p75 ms | × `node -e 0`, per round |', '|---|---:|---:|---:|'];
  for (const row of r.install) lines.push(`| ${WHAT[row.id] ?? row.id} | ${ms(row.median)} | ${ms(row.p25)}–${ms(row.p75)} | ${x(row.paired)} |`);
  const get = (id: string) => r.install.find((row) => row.id === id)!.samples;
  const line = (label: string, a: string, b: string) => {
    const added = addedBy(r, a, b);
    return `| ${label} | ${signed(added.ms)} ms | ${added.starts.toFixed(2)} | ${x(med(get(a).map((v, k) => v / get(b)[k]!)))} |`;
  };
  lines.push('', 'Per-round differences (scripts minus `--ignore-scripts`, the two runs in the same round), medians:', '', '| what the postinstall adds to the install | ms | Node starts (that round\'s `node -e 0`) | with ÷ without scripts |', '|---|---:|---:|---:|');
  lines.push(line('install-beacon (auto = inline here)', 'ib.install.scripts', 'ib.install.ignore'));
  lines.push(line('install-beacon (background)', 'ib.bg.install.scripts', 'ib.install.ignore'));
  lines.push(line('reference: a postinstall of `node -e 0`', 'ref.install.scripts', 'ib.install.ignore'));
  lines.push(line('@scarf/scarf', 'scarf.install.scripts', 'scarf.install.ignore'));
  return lines.join('\n') + notes(r.install);
}

function runtimeSection(rt: RuntimeResult): string {
  if (!rt.available) return `Not available: ${rt.reason ?? 'unknown'}.`;
  return [
    '| figure | value |',
    '|---|---:|',
    `| \`require('install-beacon')\` (the library entry) in a fresh process | ${ms(rt.requireMs)} ms |`,
    `| first call in a fresh install (no marker): loading the package, whose main module calls it, returns after | ${ms(rt.firstCallMs)} ms |`,
    ...(rt.firstCallSettledMs !== undefined ? [`| first call: the work it defers to the next tick (decision, marker claim, starting the sender) done after | ${ms(rt.firstCallSettledMs)} ms |`] : []),
    `| first call in a process once the install has reported (marker present) | ${ms(rt.markerFirstCallMs)} ms |`,
    `| each later call in the same process (mean of ${rt.calls?.toLocaleString('en-US')} calls) | ${rt.nsPerCall?.toFixed(0)} ns/call |`,
    '',
    `Medians over ${rt.runs} processes; ${rt.events} events arrived for ${rt.runs} fresh installs (and the loop runs, where the marker existed, sent none beyond that).`,
  ].join('\n');
}

const LOADS: Record<string, string> = {
  'ib.optout': "install-beacon's hook, opt-out",
  'ib.skip': "install-beacon's hook, self-install skip",
  'ib.bg.local': "install-beacon's hook, background send (the hook process; its detached sender also loads `dist/deliver.cjs`)",
  'ib.inline.local': "install-beacon's hook, inline send",
  'runtime.first': '`reportInstall` on a fresh install (claims it, starts the sender)',
  'runtime.reported': '`reportInstall` once the install has reported',
  'scarf.optout': "@scarf/scarf's hook, opt-out",
  'scarf.send': "@scarf/scarf's hook, send (besides its `npm ls` child)",
};

function sizeSection(r: Results): string {
  const lines: string[] = [];
  const p = r.size.packages;
  if (p) {
    const kB = (b: number) => `${(b / 1000).toFixed(1)} kB`;
    lines.push('What every user who installs a package using it downloads, as `npm pack --dry-run --json` reports each tarball:', '');
    lines.push('| | install-beacon | @scarf/scarf 1.4.0 |', '|---|---:|---:|');
    lines.push(`| tarball (packed) | ${kB(p.ib.packed)} | ${kB(p.scarf.packed)} |`);
    lines.push(`| unpacked | ${kB(p.ib.unpacked)} | ${kB(p.scarf.unpacked)} |`);
    lines.push(`| files | ${p.ib.files} | ${p.scarf.files} |`, '');
  }
  lines.push('JavaScript each path loads (files in `require.cache` under the load probe, the fixture packages\' own `index.js` aside for reportInstall):', '');
  lines.push('| path | files | bytes |', '|---|---|---:|');
  const short = (f: string) => f.replace(/^.*\/node_modules\//, '').replace(/^.*\/dist\//, 'install-beacon/dist/');
  for (const id of Object.keys(LOADS)) {
    const probe = r.memory.find((m) => m.id === id);
    const rt = r.size.runtime?.find((l) => l.id === id);
    if (probe) lines.push(`| ${LOADS[id]} | ${probe.files.map((f) => `\`${short(f)}\``).join(', ')} | ${kb(probe.jsBytes)} |`);
    else if (rt) {
      const files = rt.files.filter((f) => !/acme-runtime/.test(f.file));
      lines.push(`| ${LOADS[id]} | ${files.map((f) => `\`${short(f.file)}\``).join(', ')} | ${kb(files.reduce((s, f) => s + f.bytes, 0))} |`);
    }
  }
  lines.push('', '| file | bytes |', '|---|---:|');
  for (const f of r.size.dist) lines.push(`| \`${f.file}\` | ${kb(f.bytes)} |`);
  lines.push(`| all of install-beacon's dist JavaScript | ${kb(r.size.dist.reduce((s, f) => s + f.bytes, 0))} |`);
  lines.push(`| @scarf/scarf 1.4.0 \`report.js\` (all it loads besides its package.json files) | ${kb(r.size.scarfReport)} |`);
  return lines.join('\n');
}

function memorySection(r: Results): string {
  const lines = ['| subject | peak RSS (MB) | CPU time, user + sys (ms) | CPU × `node -e 0` | JS files loaded (bytes) | Node built-in modules loaded |', '|---|---:|---:|---:|---|---:|'];
  const floorCpu = r.memory.find((m) => m.id === 'floor')?.cpuMs ?? NaN;
  for (const m of r.memory) {
    const files = m.files.length ? m.files.map((f) => `\`${f.replace(/^.*\/node_modules\//, '').replace(/^.*\/ib-bench-[^/]+\//, '')}\``).join(', ') : '—';
    lines.push(`| ${WHAT[m.id] ?? m.id} | ${m.maxRssMb.toFixed(1)} | ${ms(m.cpuMs)} | ${x(m.cpuMs / floorCpu)} | ${files} (${kb(m.jsBytes)}) | ${m.builtins} |`);
  }
  return lines.join('\n');
}

export function renderMarkdown(r: Results, findings: string): string {
  const m = r.machine;
  const v = verdicts(r);
  return `# Benchmarks

What an install with install-beacon costs the person installing, measured side by side with \`@scarf/scarf\` 1.4.0 and against a bare Node start. Generated by \`npm run bench\` (\`scripts/bench/\`); this file and \`docs/bench.svg\` are its output.

- **Run:** ${r.started} to ${r.finished} (UTC)
- **Machine:** ${m.cpu}, ${m.cores} cores, ${m.memGb} GB, ${m.os}; load average ${m.loadBefore.map((l) => l.toFixed(2)).join(' / ')} before, ${m.loadAfter.map((l) => l.toFixed(2)).join(' / ')} after. A shared machine: other jobs ran during the run, so absolute times drift; compare the ratios.
- **Node** ${m.node}, **npm** ${m.npm}; \`NODE_EXTRA_CA_CERTS\` ${m.extraCa} for the floor and every subject alike (it makes every Node start slower here).
- **Reproduce:** \`npm ci && npm run bench\` (\`BENCH_ROUNDS\`, default 51, \`BENCH_SLOW_ROUNDS\`, default 13, \`BENCH_INSTALL_ROUNDS\`, default 12, and \`BENCH_PROBE_RUNS\`, default 11, set the rounds; this run took the time shown above).
- **Method:** each subject is one process, timed from \`spawn()\` to its exit, stdio piped as npm pipes a lifecycle script. Subjects run round-robin (${r.rounds.hook} rounds for the fast hook paths; ${r.rounds.slow} for the slow ones, those that wait on a deadline or on @scarf/scarf's \`npm ls\`, with their own floor; ${r.rounds.install} for whole installs; each after one discarded warm-up round), each round starting one subject further along, so drift hits all alike. Figures are medians. The ratio the targets use is \`per round\`: each run divided by the \`node -e 0\` run of the same round, then the median of those (pairs runs seconds apart, so load that comes and goes cancels out); the ratio of the two medians is shown beside it. Whole-install costs are likewise medians of per-round differences. Separately, each fast path ran again under a load probe for its CPU time (user + system; other jobs on the machine disturb it less than wall time), its peak RSS and what it loads. Every send run starts from a fresh marker, and whether its event arrived is counted at the collector (a real HTTP server on 127.0.0.1 answering 204 at once); the black hole is a TCP server on 127.0.0.1 that accepts and never answers. A background send's detached sender is waited for (local) or killed by PID (black hole) before the next run. @scarf/scarf runs from its installed folder with \`INIT_CWD\` at the project and \`SCARF_LOCAL_PORT\` at the same endpoints.

## Targets

| target | measured | met |
|---|---|---|
${v.map((t) => `| ${t.target} | ${t.measured} | ${t.met ? 'yes' : '**no**'} |`).join('\n')}

![install-beacon vs @scarf/scarf: cost as a multiple of a bare Node start](docs/bench.svg)

## The postinstall process, spawn to exit

${hookTable(r)}

## Whole \`npm install\` of a packed fixture package (local tarballs, no registry)

${installTable(r)}

## Runtime trigger: \`reportInstall(__filename)\`

${runtimeSection(r.runtime)}

## Size

${sizeSection(r)}

## Peak memory and what each process loads

Separate runs (\`BENCH_PROBE_RUNS\` per subject, default 11; medians) under \`--require scripts/bench/load-probe.cjs\`, which records \`process.resourceUsage().maxRSS\`, \`require.cache\` and the Node built-in modules loaded. RSS is the hook process's own (for @scarf/scarf, not its \`npm ls\` child). Built-in modules count \`process.moduleLoadList\`; a script file run as the main module loads a few fewer than \`-e\` does.

${memorySection(r)}
${findings ? `\n${findings.trim()}\n` : ''}`;
}

// ------------------------------------------------------------ chart

interface Bar {
  label: string;
  value: number;
  who: 'ib' | 'scarf';
}

export function chartBars(r: Results): { group: string; bars: Bar[] }[] {
  const h = (id: string) => r.hook.find((row) => row.id === id)!.paired;
  const i = (id: string) => r.install.find((row) => row.id === id)!.samples;
  const per = (a: string, b: string) => med(i(a).map((v, k) => v / i(b)[k]!));
  return [
    { group: 'Opt-out (DO_NOT_TRACK=1)', bars: [{ label: 'install-beacon', value: h('ib.optout'), who: 'ib' }, { label: '@scarf/scarf', value: h('scarf.optout'), who: 'scarf' }] },
    {
      group: 'Send to a local endpoint',
      bars: [
        { label: 'install-beacon, background', value: h('ib.bg.local'), who: 'ib' },
        { label: 'install-beacon, inline', value: h('ib.inline.local'), who: 'ib' },
        { label: '@scarf/scarf', value: h('scarf.send'), who: 'scarf' },
      ],
    },
    {
      group: 'Endpoint that never answers',
      bars: [
        { label: 'install-beacon, background', value: h('ib.bg.hole'), who: 'ib' },
        { label: `install-beacon, inline (${r.timeoutMs} ms deadline)`, value: h('ib.inline.hole'), who: 'ib' },
        { label: '@scarf/scarf', value: h('scarf.hole'), who: 'scarf' },
      ],
    },
    {
      group: 'Whole npm install, ÷ the same with --ignore-scripts',
      bars: [
        { label: 'install-beacon', value: per('ib.install.scripts', 'ib.install.ignore'), who: 'ib' },
        { label: '@scarf/scarf', value: per('scarf.install.scripts', 'scarf.install.ignore'), who: 'scarf' },
      ],
    },
  ];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function renderSvg(r: Results): string {
  const groups = chartBars(r);
  const max = Math.max(...groups.flatMap((g) => g.bars.map((b) => b.value)));
  const top = max <= 10 ? 10 : max <= 100 ? 100 : 1000;
  const W = 860;
  const left = 290;
  const right = 70;
  const plotW = W - left - right;
  const barH = 18;
  const gap = 6;
  const colors = { ib: '#1b7f5f', scarf: '#d9822b' };
  const xOf = (v: number) => left + (Math.log10(Math.max(v, 1)) / Math.log10(top)) * plotW;
  const parts: string[] = [];
  let y = 74;
  for (const g of groups) {
    parts.push(`<text x="12" y="${y + 4}" class="group">${esc(g.group)}</text>`);
    y += 12;
    for (const b of g.bars) {
      const x1 = xOf(b.value);
      parts.push(`<text x="${left - 8}" y="${y + barH - 5}" class="label" text-anchor="end">${esc(b.label)}</text>`);
      parts.push(`<rect x="${left}" y="${y}" width="${Math.max(2, x1 - left).toFixed(1)}" height="${barH}" fill="${colors[b.who]}" rx="2"/>`);
      parts.push(`<text x="${(Math.max(2, x1 - left) + left + 6).toFixed(1)}" y="${y + barH - 5}" class="value">${b.value < 10 ? b.value.toFixed(2) : b.value.toFixed(1)}×</text>`);
      y += barH + gap;
    }
    y += 14;
  }
  const axisY = y;
  // The download size, on its own linear scale under the time axis.
  const p = r.size.packages;
  const sizeParts: string[] = [];
  if (p) {
    let sy = axisY + 40;
    sizeParts.push(`<text x="12" y="${sy + 4}" class="group">Download size, kB (npm pack; linear scale, lower is better)</text>`);
    sy += 12;
    const top = Math.max(p.ib.unpacked, p.scarf.unpacked);
    const bars: Bar[] = [
      { label: 'install-beacon, packed', value: p.ib.packed, who: 'ib' },
      { label: '@scarf/scarf, packed', value: p.scarf.packed, who: 'scarf' },
      { label: 'install-beacon, unpacked', value: p.ib.unpacked, who: 'ib' },
      { label: '@scarf/scarf, unpacked', value: p.scarf.unpacked, who: 'scarf' },
    ];
    for (const b of bars) {
      const w = Math.max(2, (b.value / top) * plotW);
      sizeParts.push(`<text x="${left - 8}" y="${sy + barH - 5}" class="label" text-anchor="end">${esc(b.label)}</text>`);
      sizeParts.push(`<rect x="${left}" y="${sy}" width="${w.toFixed(1)}" height="${barH}" fill="${colors[b.who]}" rx="2"/>`);
      sizeParts.push(`<text x="${(left + w + 6).toFixed(1)}" y="${sy + barH - 5}" class="value">${(b.value / 1000).toFixed(1)} kB</text>`);
      sy += barH + gap;
    }
    y = sy;
  }
  const height = y + 30;
  const ticks = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000].filter((t) => t <= top);
  const grid = ticks
    .map((t) => `<line x1="${xOf(t).toFixed(1)}" y1="60" x2="${xOf(t).toFixed(1)}" y2="${axisY - 10}" class="${t === 1 ? 'one' : 'grid'}"/><text x="${xOf(t).toFixed(1)}" y="${axisY + 6}" class="tick" text-anchor="middle">${t}×</text>`)
    .join('');
  const hookRounds = r.rounds.hook;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif">
<style>
.title{font-size:15px;font-weight:600;fill:#222}.sub{font-size:11.5px;fill:#555}.group{font-size:12.5px;font-weight:600;fill:#222}
.label{font-size:12px;fill:#333}.value{font-size:12px;fill:#222}.tick{font-size:11px;fill:#666}
.grid{stroke:#ddd;stroke-width:1}.one{stroke:#888;stroke-width:1;stroke-dasharray:3 3}
</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="12" y="22" class="title">Time an install waits for the postinstall, as a multiple of a bare Node start (lower is better)</text>
<text x="12" y="40" class="sub">Median over ${hookRounds} rounds (slow paths ${r.rounds.slow}) of each run ÷ \`node -e 0\` in the same round (log scale); Node ${esc(r.machine.node)}, ${esc(r.started.slice(0, 10))}. Source: npm run bench, BENCHMARKS.md</text>
<rect x="${left}" y="48" width="12" height="10" fill="${colors.ib}"/><text x="${left + 16}" y="57" class="label">install-beacon</text>
<rect x="${left + 130}" y="48" width="12" height="10" fill="${colors.scarf}"/><text x="${left + 146}" y="57" class="label">@scarf/scarf 1.4.0</text>
${grid}
${parts.join('\n')}
${sizeParts.join('\n')}
</svg>
`;
}

export function writeReport(r: Results, root: string): void {
  const findingsFile = join(root, 'scripts/bench/findings.md');
  const findings = existsSync(findingsFile) ? readFileSync(findingsFile, 'utf8') : '';
  writeFileSync(join(root, 'BENCHMARKS.md'), renderMarkdown(r, findings));
  mkdirSync(join(root, 'docs'), { recursive: true });
  writeFileSync(join(root, 'docs/bench.svg'), renderSvg(r));
}
