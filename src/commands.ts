const fs = require('fs') as typeof import('fs'); // not `import * as`: see NAMESPACE_COPY in scripts/build.mjs
const path = require('path') as typeof import('path'); // not `import * as`: see NAMESPACE_COPY in scripts/build.mjs
import { parseConfig } from './config.js';
import { contextFacts, type Decision } from './decide.js';
import { currentHost, type Env } from './env.js';
import { decideHere, printable, say } from './hook.js';
import { optOutFile } from './machine.js';
import { ENV_OPT_OUTS, envOptOut, insideNodeModules } from './optout.js';
import { realDir, realProbes } from './probes.js';
import { findBeaconPackages, positionalFromScripts, projectDirOf, readPkg, usesBeacon } from './scan.js';
import { renderTemplate, VARIABLE_DOCS, type VarName } from './template.js';
import { BEACON_VERSION } from './version.js';

// The interactive commands. Unlike postinstall mode, these talk to a person:
// clear messages, and a non-zero exit where something is wrong.

const out = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};

// ---------------------------------------------------------------- explain

interface Explained {
  name: string;
  version: string;
  dir: string;
  send: boolean;
  rule: string;
  reason: string;
  url?: string;
  delivery?: string;
  endpoint?: string;
  fields?: Record<string, string>;
  problems?: string[];
}

function toExplained(dir: string, d: Decision): Explained {
  return {
    name: d.name ?? path.basename(dir),
    version: d.version ?? 'unknown',
    dir,
    send: d.send,
    rule: d.rule,
    reason: d.reason,
    url: d.url,
    delivery: d.delivery,
    endpoint: d.config?.template.host,
    fields: d.values as Record<string, string> | undefined,
    problems: d.problems && d.problems.length ? d.problems : undefined,
  };
}

/**
 * The environment a future install here would see: npm's settings for the
 * command that ran `explain` (npx sets npm_config_offline, npm_command, ...)
 * describe that command, not an install.
 */
function installEnv(env: Env): Env {
  const copy: Record<string, string | undefined> = { ...env };
  for (const key of ['npm_config_offline', 'npm_config_global', 'npm_config_location', 'npm_command', 'npm_lifecycle_event', 'npm_config_user_agent']) delete copy[key];
  return copy;
}

export function explain(args: string[]): number {
  const host = currentHost();
  const json = args.includes('--json');
  const cwd = realDir(host.cwd);
  const own = readPkg(cwd);
  const results: Explained[] = [];
  let mode: 'package' | 'project';
  if (own && usesBeacon(own)) {
    // In a package that uses install-beacon: evaluate it as if a user installed it.
    mode = 'package';
    const d = decideHere({ ...host, env: installEnv(host.env) }, cwd, 'postinstall', { positional: positionalFromScripts(own), asDependency: true, describeSkips: true });
    results.push(toExplained(cwd, d));
  } else {
    // In a project: every installed package that uses install-beacon, as an install here would see it.
    mode = 'project';
    const root = projectDirOf(cwd);
    const env: Env = { ...installEnv(host.env), INIT_CWD: root };
    for (const found of findBeaconPackages(root)) {
      const d = decideHere({ ...host, env }, found.dir, 'postinstall', { positional: found.positional, describeSkips: true });
      results.push(toExplained(found.dir, d));
    }
  }
  if (json) {
    out(JSON.stringify({ beaconVersion: BEACON_VERSION, mode, cwd, packages: results }, null, 2));
    return 0;
  }
  out(`install-beacon ${BEACON_VERSION}: explain (${mode === 'package' ? 'this package, as if installed as a dependency' : `installed packages under ${cwd}`})`);
  out();
  if (results.length === 0) out('No installed package here uses install-beacon: nothing is sent by an install here.');
  for (const r of results) {
    out(`${printable(r.name)}@${printable(r.version)}  ${path.relative(cwd, r.dir) || '.'}`);
    out(`  ${r.send ? `sends: yes, ${r.delivery} delivery, to ${r.endpoint}` : 'sends: no'}`);
    out(`  why:   ${r.reason} [${r.rule}]`);
    if (r.url) out(`  URL:   ${r.url}${r.send ? '' : '  (not sent: the rule above applies)'}`);
    if (r.fields) out(`  fields: ${Object.entries(r.fields).map(([k, v]) => `${k}=${printable(v)}`).join(' ')}`);
    for (const p of r.problems ?? []) out(`  note:  ${p}`);
    out();
  }
  out('To opt out (any one is enough):');
  for (const line of optOutLines()) out(`  ${line}`);
  const active = envOptOut(host.env);
  if (active) out(`Active now: ${active.name}=${active.value}.`);
  return 0;
}

function optOutLines(): string[] {
  return [
    ...ENV_OPT_OUTS.map((row) => `${row.name} set to ${row.values}`),
    `in your project's package.json: "installBeacon": {"enabled": false} (or Scarf's "scarfSettings": {"enabled": false})`,
    'for every project on this machine: npx install-beacon disable',
  ];
}

// ---------------------------------------------------------------- check

export function check(args: string[]): number {
  const host = currentHost();
  const dir = path.resolve(host.cwd, args.find((a) => !a.startsWith('-')) ?? '.');
  const pkg = readPkg(dir);
  if (!pkg) {
    say(`install-beacon: error: cannot read ${path.join(dir, 'package.json')} (missing or not valid JSON)`);
    return 1;
  }
  const positional = positionalFromScripts(pkg);
  const result = parseConfig(pkg.installBeacon, positional);
  const name = typeof pkg.name === 'string' ? pkg.name : 'unknown';
  const version = typeof pkg.version === 'string' ? pkg.version : 'unknown';
  const warnings = [...result.warnings];
  const deps = (pkg.dependencies ?? {}) as Record<string, unknown>;
  if (!deps['install-beacon']) warnings.push('"install-beacon" is not in "dependencies" (devDependencies are not installed for your users)');
  const scripts = (pkg.scripts ?? {}) as Record<string, unknown>;
  if (typeof scripts.postinstall !== 'string' || !/\binstall-beacon\b/.test(scripts.postinstall)) {
    warnings.push('"scripts.postinstall" does not run install-beacon, so installs are not reported by the hook');
  }
  if (!result.ok) {
    say(`install-beacon: ${name}@${version}: the configuration is invalid:`);
    for (const e of result.errors) say(`  error: ${e}`);
    for (const w of warnings) say(`  warning: ${w}`);
    return 1;
  }
  const { config } = result;
  const facts = contextFacts(
    { env: host.env, pkgDir: dir, trigger: 'postinstall', platform: host.platform, arch: host.arch, nodeVersion: host.nodeVersion, beaconVersion: BEACON_VERSION, probes: realProbes, newId: () => '00000000-0000-4000-8000-000000000000' },
    name, version, config.template.variables,
  );
  out(`install-beacon: ${name}@${version}: the configuration is valid${positional ? ' (URL from the postinstall command line)' : ''}.`);
  for (const w of warnings) out(`  warning: ${w}`);
  if (result.disabledByAuthor) out('  note: "enabled": false: nothing is sent until you remove it');
  out();
  out('An install on this machine would request:');
  out(`  GET ${renderTemplate(config.template, facts.values)}`);
  out(`  delivery: ${config.delivery}${config.delivery === 'auto' ? ' (in-process in CI and containers, else a detached background process)' : ''}; inline deadline ${config.timeoutMs} ms; CI installs ${config.ci ? 'counted' : 'skipped'}`);
  out();
  out('See it arrive: run `npx install-beacon listen` and point "url" at http://127.0.0.1:7707/... while testing.');
  out();
  out('A "Telemetry" section for your README:');
  out();
  out(telemetrySection(name, config.template.host, [...config.template.variables]));
  return 0;
}

export function telemetrySection(name: string, host: string, variables: VarName[]): string {
  const rows = variables.map((v) => `| \`${v}\` | ${VARIABLE_DOCS[v]} |`);
  return [
    '## Telemetry',
    '',
    `${name} counts its installs with [install-beacon](https://www.npmjs.com/package/install-beacon): when it is installed as a dependency, it sends one anonymous request to \`${host}\` carrying only these fields:`,
    '',
    '| field | meaning |',
    '|---|---|',
    ...rows,
    '',
    'Nothing else is sent: no file paths, user or host names, project names, or environment values. Nothing is sent when you work on this package itself. The install never waits on the network and never fails because of it.',
    '',
    'To opt out, any one of these is enough:',
    '',
    ...ENV_OPT_OUTS.map((row) => `- \`${row.name}\` set to ${row.values}`),
    `- in your project's package.json: \`"installBeacon": {"enabled": false}\` (Scarf's \`"scarfSettings": {"enabled": false}\` works too)`,
    '- for every project on your machine: `npx install-beacon disable`',
    '',
    'Run `npx install-beacon explain` in your project to see exactly what would be sent, and why.',
  ].join('\n');
}

// ---------------------------------------------------------------- disable / enable / status

export function machineSwitch(command: 'disable' | 'enable' | 'status'): number {
  const host = currentHost();
  const file = optOutFile(host.env, host.platform);
  if (!file) {
    say('install-beacon: error: no user config dir (set HOME, XDG_CONFIG_HOME or APPDATA)');
    return 1;
  }
  try {
    if (command === 'disable') {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, 'install-beacon is disabled for every project on this machine.\nDelete this file, or run `npx install-beacon enable`, to turn it back on.\n');
      out(`install-beacon: disabled for every project on this machine (${file})`);
    } else if (command === 'enable') {
      fs.rmSync(file, { force: true });
      out(`install-beacon: the machine-wide opt-out is off (${file} removed)`);
      const env = envOptOut(host.env);
      if (env) out(`install-beacon: still off in this shell: ${env.name}=${env.value}`);
    } else {
      const off = realProbes.exists(file);
      out(`install-beacon: machine-wide opt-out: ${off ? 'on (disabled)' : 'off'} (${file})`);
      const env = envOptOut(host.env);
      out(`install-beacon: environment opt-out: ${env ? `${env.name}=${env.value}` : 'none'}`);
    }
    return 0;
  } catch (error) {
    say(`install-beacon: error: ${(error as Error).message}`);
    return 1;
  }
}

// ---------------------------------------------------------------- listen

export const DEFAULT_LISTEN_PORT = 7707;

export async function listen(args: string[]): Promise<number> {
  const i = args.indexOf('--port');
  const raw = i === -1 ? String(DEFAULT_LISTEN_PORT) : args[i + 1] ?? '';
  const port = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(port >= 0 && port <= 65535)) {
    say(`install-beacon: error: --port needs a number from 0 to 65535, not "${raw}"`);
    return 1;
  }
  // Loaded here, not at the top: cli.cjs also serves the background send, which has no use for an HTTP server.
  const http = await import('http');
  return new Promise((resolve) => {
    const server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const segments = url.pathname.split('/').filter(Boolean).map((s) => {
        try {
          return decodeURIComponent(s);
        } catch {
          return s; // not valid percent-encoding: show it as received
        }
      });
      const query: Record<string, string> = {};
      url.searchParams.forEach((value, key) => {
        query[key] = value;
      });
      out(JSON.stringify({ time: new Date().toISOString(), method: req.method, path: url.pathname, segments, query, userAgent: req.headers['user-agent'] ?? null }));
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
    });
    server.on('error', (error) => {
      say(`install-beacon: error: cannot listen on 127.0.0.1:${port}: ${error.message}`);
      resolve(1);
    });
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const actual = typeof address === 'object' && address ? address.port : port;
      say(`install-beacon: listening on http://127.0.0.1:${actual}/ (one JSON line per request on stdout; Ctrl-C to stop)`);
      say(`install-beacon: for a test install, set "installBeacon": {"url": "http://127.0.0.1:${actual}/{name}/{version}/{platform}/{arch}?ci={ci}&container={container}&pm={pm}"}`);
    });
    const stop = () => server.close(() => resolve(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
