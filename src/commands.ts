const fs = require('fs') as typeof import('fs'); // not `import * as`: see NAMESPACE_COPY in scripts/build.mjs
const path = require('path') as typeof import('path'); // not `import * as`: see NAMESPACE_COPY in scripts/build.mjs
import { isObject, parseConfig, parseJson, projectOptOut, projectSettingNotes, type BeaconConfig } from './config.js';
import { contextFacts, type Decision, type Trigger } from './decide.js';
import { DEP_FIELDS } from './direct.js';
import { currentHost, type Env } from './env.js';
import { decideHere, printable, say } from './hook.js';
import { findInvocations, RECOMMENDED_LINE } from './lifecycle.js';
import { optOutFile } from './machine.js';
import { markerState } from './marker.js';
import { ENV_OPT_OUTS, envOptOut } from './optout.js';
import { realDir, realMarkerFs, realProbes } from './probes.js';
import { nearest, withSuggestion } from './suggest.js';
import { findBeaconPackages, positionalFromScripts, projectDirOf, readPkg, usesBeacon } from './scan.js';
import { renderTemplate, VARIABLE_DOCS, type VarName } from './template.js';
import { BEACON_VERSION } from './version.js';

// The interactive commands. Unlike postinstall mode, these talk to a person:
// clear messages, and a non-zero exit where something is wrong.

const out = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};

/** Exit status for a command line that cannot be understood (as in most CLIs: 2, not 1). */
export const USAGE_ERROR = 2;

type Parsed = { ok: true; flags: Map<string, string | true>; positionals: string[] } | { ok: false };

/**
 * A strict parser for one command's arguments: an unknown or misspelt option is
 * refused with a clear message (a silently ignored `--prot 5` would listen on
 * the default port and leave the person wondering).
 */
export function parseArgs(command: string, args: string[], spec: { flags?: string[]; valued?: string[]; positionals?: number }): Parsed {
  const known = [...(spec.flags ?? []), ...(spec.valued ?? [])];
  const flags = new Map<string, string | true>();
  const positionals: string[] = [];
  const refuse = (message: string): Parsed => {
    say(`install-beacon: ${command}: ${message}`);
    say(`Run \`install-beacon --help\` for the usage.`);
    return { ok: false };
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg.startsWith('-') && arg !== '-') {
      const [name, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
      if (spec.valued?.includes(name)) {
        const value = inline ?? args[++i];
        if (value === undefined) return refuse(`${name} needs a value`);
        flags.set(name, value);
      } else if (spec.flags?.includes(name) && inline === undefined) {
        flags.set(name, true);
      } else {
        const near = nearest(name.replace(/^-+/, ''), known.map((k) => k.replace(/^-+/, '')));
        return refuse(`unknown option "${arg}"${near ? ` (did you mean --${near}?)` : ''}; ${known.length ? `known: ${known.join(', ')}` : 'it takes no options'}`);
      }
    } else {
      positionals.push(arg);
    }
  }
  const max = spec.positionals ?? 0;
  if (positionals.length > max) return refuse(`unexpected argument "${positionals[max]}"`);
  return { ok: true, flags, positionals };
}

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
  /** Set for an install that already reported: what its marker says. */
  reported?: string;
  marker?: Decision['marker'];
  pkgMtimeMs?: number;
}

/** Said wherever a template names a field whose name could worry a reader. */
const LOW_ENTROPY_NOTE = '{direct} (true/false/unknown: did the project ask for this package) and {libc_version} (e.g. 2.36) identify no one';

function toExplained(dir: string, d: Decision): Explained {
  const vars = d.config?.template.variables;
  const notes = [...(d.problems ?? []).map(withSuggestion), ...(vars && (vars.has('direct') || vars.has('libc_version')) ? [LOW_ENTROPY_NOTE] : [])];
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
    problems: notes.length ? notes : undefined,
    marker: d.marker,
    pkgMtimeMs: d.pkgMtimeMs,
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
  const parsed = parseArgs('explain', args, { flags: ['--json'] });
  if (!parsed.ok) return USAGE_ERROR;
  const host = currentHost();
  const json = parsed.flags.has('--json');
  const cwd = realDir(host.cwd);
  const own = readPkg(cwd);
  const results: Explained[] = [];
  let mode: 'package' | 'project';
  let project: { dir: string; optOut?: string; notes: string[] } | undefined;
  if (own && usesBeacon(own)) {
    // In a package that uses install-beacon: evaluate it as if a user installed it.
    mode = 'package';
    const d = decideHere({ ...host, env: installEnv(host.env) }, cwd, 'postinstall', { positional: positionalFromScripts(own), asDependency: true, describeSkips: true });
    const explained = toExplained(cwd, d);
    // What would break or cut the author's install line (check reports the same as errors).
    const setup = findInvocations(isObject(own.scripts) ? own.scripts : {}).flatMap((i) => i.errors);
    if (setup.length) explained.problems = [...(explained.problems ?? []), ...setup];
    results.push(explained);
  } else {
    // In a project: every installed package that uses install-beacon, as an install here would see it.
    mode = 'project';
    const root = projectDirOf(cwd);
    const rootPkg = readPkg(root);
    project = { dir: root, optOut: projectOptOut(rootPkg), notes: projectSettingNotes(rootPkg) };
    const env: Env = { ...installEnv(host.env), INIT_CWD: root };
    for (const found of findBeaconPackages(root)) {
      const at = (trigger: Trigger) => decideHere({ ...host, env }, found.dir, trigger, { positional: found.positional, describeSkips: true });
      const d = at('postinstall');
      // Reported by reportInstall: the URL it sent said trigger=runtime (its marker records which).
      results.push(toExplained(found.dir, d.rule === 'already-reported' && /"trigger":"runtime"/.test(realMarkerFs.read(d.marker!.file) ?? '') ? at('runtime') : d));
    }
  }
  for (const r of results) {
    if (r.rule === 'already-reported') r.reported = reportState(r);
    if (r.fields?.pm_version === 'unknown') {
      (r.problems ??= []).push('{pm_version} is "unknown" here: an install sends the installing package manager\'s version, from its user agent (npm_config_user_agent)');
    }
    if (r.fields?.direct === 'unknown' && mode === 'package') {
      (r.problems ??= []).push('{direct} is "unknown" in your own checkout; installed, it is true or false');
    }
  }
  if (json) {
    out(JSON.stringify({ beaconVersion: BEACON_VERSION, mode, cwd, ...(project ? { project } : {}), packages: results.map(({ marker: _marker, pkgMtimeMs: _mtime, ...r }) => r) }, null, 2));
    return 0;
  }
  out(`install-beacon ${BEACON_VERSION}: explain (${mode === 'package' ? 'this package, as if installed as a dependency' : `installed packages under ${project!.dir}`})`);
  out();
  if (project?.optOut) out(`This project opted out: its package.json (${project.dir}) has ${project.optOut}. Installs into it send nothing.`);
  for (const note of project?.notes ?? []) out(`Note: ${project!.dir}/package.json: ${note}.`);
  if (project?.optOut || project?.notes.length) out();
  if (results.length === 0) out('No installed package here uses install-beacon: nothing is sent by an install here.');
  for (const r of results) {
    out(`${printable(r.name)}@${printable(r.version)}  ${path.relative(cwd, r.dir) || '.'}`);
    out(`  ${r.send ? `sends: yes, ${r.delivery} delivery, to ${r.endpoint}` : r.reported ? `sends: no (${r.reported})` : 'sends: no'}`);
    out(`  why:   ${r.reason} [${r.rule}]`);
    if (r.url) out(`  URL:   ${r.url}${r.send || r.reported ? '' : '  (not sent: the rule above applies)'}`);
    if (r.fields) out(`  fields: ${Object.entries(r.fields).map(([k, v]) => `${k}=${printable(v)}`).join(' ')}`);
    for (const p of r.problems ?? []) out(`  note:  ${p}`);
    out();
  }
  out('To opt out (any one is enough):');
  for (const line of optOutLines()) out(`  ${line}`);
  out('A variable covers only the processes that see it: set it where you install and where your programs run (shell profile, CI settings);');
  out('the package.json setting and `disable` cover both.');
  const active = envOptOut(host.env);
  if (active) out(`Active now: ${active.name}=${active.value}.`);
  return 0;
}

/** For an install that already reported: the state of its marker, in words. */
function reportState(r: Explained): string {
  try {
    const state = r.marker ? markerState(r.marker, realMarkerFs, Date.now(), r.pkgMtimeMs ?? 0) : 'reported';
    if (state === 'in-flight') return 'being reported now, or a failed send waits for its retry after 10 minutes';
  } catch {
    // An unreadable marker: fall back to what decide() concluded.
  }
  return 'already reported: an earlier run of this install sent it, with a URL like the one below';
}

function optOutLines(): string[] {
  return [
    ...ENV_OPT_OUTS.map((row) => `${row.name} set to ${row.values}`),
    `in your project's package.json: "installBeacon": {"enabled": false} (or Scarf's "scarfSettings": {"enabled": false})`,
    'for every project of your user account: npx install-beacon disable (root, sudo and CI users each have their own)',
  ];
}

// ---------------------------------------------------------------- check

/** package.json as text and parsed, or why not, with the line and column of a JSON syntax error. */
export function readPackageJson(file: string): { ok: true; pkg: Record<string, unknown> } | { ok: false; error: string } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    return { ok: false, error: `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` };
  }
  try {
    const pkg = parseJson(text);
    return isObject(pkg) ? { ok: true, pkg } : { ok: false, error: `${file} is not a JSON object` };
  } catch (error) {
    return { ok: false, error: `${file} is not valid JSON: ${jsonErrorAt(text, (error as Error).message)}` };
  }
}

/** "Unexpected token } in JSON at position 41" → "line 3, column 5: Unexpected token }" (Node's message has only an offset before Node 22). */
export function jsonErrorAt(text: string, message: string): string {
  const clean = message.replace(/\s*\(line \d+ column \d+\)$/, '');
  const m = /at position (\d+)/.exec(clean);
  const offset = m ? Number(m[1]) : /end of (JSON )?(data|input)/i.test(clean) ? text.length : undefined;
  if (offset === undefined) return clean;
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${before[before.length - 1]!.length + 1}: ${clean.replace(/\s*in JSON at position \d+/, '').replace(/^JSON\.parse: /, '')}`;
}

/** Does the package's main module call reportInstall (the runtime trigger)? A text search: good enough to word the README section. */
function callsReportInstall(dir: string, pkg: Record<string, unknown>): boolean {
  const exp = isObject(pkg.exports) ? pkg.exports['.'] : pkg.exports;
  const entries = new Set<string>([typeof pkg.main === 'string' ? pkg.main : 'index.js']);
  const collect = (v: unknown): void => {
    if (typeof v === 'string') entries.add(v);
    else if (isObject(v)) Object.values(v).forEach(collect);
  };
  collect(exp);
  for (const entry of entries) {
    for (const file of [entry, `${entry}.js`, path.join(entry, 'index.js')]) {
      try {
        if (fs.readFileSync(path.resolve(dir, file), 'utf8').includes('reportInstall')) return true;
      } catch {
        // not a file (a folder, or no such extension): try the next spelling
      }
    }
  }
  return false;
}

export function check(args: string[]): number {
  const parsed = parseArgs('check', args, { positionals: 1 });
  if (!parsed.ok) return USAGE_ERROR;
  const host = currentHost();
  const dir = path.resolve(host.cwd, parsed.positionals[0] ?? '.');
  const read = readPackageJson(path.join(dir, 'package.json'));
  if (!read.ok) {
    say(`install-beacon: error: ${read.error}`);
    return 1;
  }
  const { pkg } = read;
  const scripts = isObject(pkg.scripts) ? pkg.scripts : {};
  const invocations = findInvocations(scripts);
  const positional = positionalFromScripts(pkg);
  const result = parseConfig(pkg.installBeacon, positional);
  const name = typeof pkg.name === 'string' ? pkg.name : 'unknown';
  const version = typeof pkg.version === 'string' ? pkg.version : 'unknown';
  const warnings = result.warnings.map(withSuggestion);
  // A setup that fails or silently breaks a user's install is an error, not a warning.
  const setupErrors = invocations.flatMap((i) => i.errors);
  const section = (key: string) => (isObject(pkg[key]) ? (pkg[key] as Record<string, unknown>) : {});
  // Any string is a spec ("" means any version, as "*"), so the key's presence is what counts.
  if (section('dependencies')['install-beacon'] === undefined) {
    const where = DEP_FIELDS.slice(1).find((k) => section(k)['install-beacon'] !== undefined);
    setupErrors.push(`"install-beacon" must be in "dependencies"${where ? `, not "${where}"` : ''}: ${where === 'devDependencies' || !where ? 'devDependencies are not installed for your users, so' : `${where} may be missing, so`} neither the postinstall nor reportInstall would find it`);
  }
  const runtime = callsReportInstall(dir, pkg);
  if (invocations.length === 0) {
    warnings.push(`no install script runs install-beacon, so installs are not reported by the hook${runtime ? ' (only by reportInstall, on first use)' : ''}: add "postinstall": "${RECOMMENDED_LINE}"`);
  }
  const errors = [...(result.ok ? [] : result.errors.map(withSuggestion)), ...setupErrors];
  if (errors.length > 0 || !result.ok) {
    say(`install-beacon: ${name}@${version}: ${result.ok ? 'the configuration is valid, but the setup is not' : 'the configuration is invalid'}:`);
    for (const e of errors) say(`  error: ${e}`);
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
  out(`  runtime trigger: ${runtime ? 'reportInstall found in the main module (installs with scripts blocked are counted on first use)' : 'reportInstall not found in the main module (installs with scripts blocked are not counted)'}`);
  out();
  out('An install on this machine would request:');
  out(`  GET ${renderTemplate(config.template, facts.values)}`);
  out(`  delivery: ${config.delivery}${config.delivery === 'auto' ? ' (in-process in CI and containers, else a detached background process)' : ''}; inline deadline ${config.timeoutMs} ms; CI installs ${config.ci ? 'counted' : 'skipped'}`);
  out();
  out('See it arrive: run `npx install-beacon listen` and point "url" at http://127.0.0.1:7707/... while testing.');
  out();
  out('A "Telemetry" section for your README:');
  out();
  out(telemetrySection(name, config, runtime));
  return 0;
}

const seconds = (ms: number): string => `${Number((ms / 1000).toFixed(2))} s`;

/**
 * The README section an author can paste. Every sentence must be true for this
 * config: how long an install can wait depends on `delivery` and `timeoutMs`,
 * CI counts on `ci`, and the runtime trigger changes where an opt-out must be set.
 */
export function telemetrySection(name: string, config: Pick<BeaconConfig, 'template' | 'ci' | 'delivery' | 'timeoutMs'>, runtime: boolean): string {
  const rows = [...config.template.variables].map((v: VarName) => `| \`${v}\` | ${VARIABLE_DOCS[v]} |`);
  const when = `when it is installed as a dependency${config.ci ? '' : ' (not in CI)'}${runtime ? ', or, where install scripts are blocked, the first time it is loaded' : ''}`;
  const waits = {
    auto: `The install never fails because of it. Outside CI and containers it does not wait for the network either: a detached background process sends the request. In CI and in containers, where that process would die with the job, the install sends the request itself and waits for it at most ${seconds(config.timeoutMs)}.`,
    inline: `The install never fails because of it; it sends the request itself and waits for it at most ${seconds(config.timeoutMs)}.`,
    background: 'The install never waits on the network and never fails because of it: a detached background process sends the request.',
  }[config.delivery];
  return [
    '## Telemetry',
    '',
    `${name} counts its installs with [install-beacon](https://www.npmjs.com/package/install-beacon): ${when}, it sends one anonymous request to \`${config.template.host}\` carrying only these fields:`,
    '',
    '| field | meaning |',
    '|---|---|',
    ...rows,
    '',
    `Nothing else is sent: no file paths, user or host names, project names, or environment values. Nothing is sent when you work on this package itself. ${waits}${runtime ? ` When the request is sent on first load, your program does not wait for it either: a detached background process sends it.` : ''}`,
    '',
    'To opt out, any one of these is enough:',
    '',
    ...ENV_OPT_OUTS.map((row) => `- \`${row.name}\` set to ${row.values}`),
    `- in your project's package.json: \`"installBeacon": {"enabled": false}\` (Scarf's \`"scarfSettings": {"enabled": false}\` works too)`,
    '- for every project of your user account: `npx install-beacon disable` (root, sudo and CI users each have their own)',
    '',
    // With reportInstall, a later program run is a second chance to send: a variable set only for the install does not cover it.
    ...(runtime ? ['A variable covers only the processes that see it: set it wherever you install and run your programs (your shell profile, your CI settings). The package.json setting and `disable` cover both.', ''] : []),
    'Run `npx install-beacon explain` in your project to see exactly what would be sent, and why.',
  ].join('\n');
}

// ---------------------------------------------------------------- disable / enable / status

export function machineSwitch(command: 'disable' | 'enable' | 'status', args: string[] = []): number {
  if (!parseArgs(command, args, {}).ok) return USAGE_ERROR;
  const host = currentHost();
  const file = optOutFile(host.env, host.platform);
  if (!file) {
    say('install-beacon: error: no user config dir (set HOME, XDG_CONFIG_HOME or APPDATA)');
    return 1;
  }
  try {
    if (command === 'disable') {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, 'install-beacon is disabled for this user account.\nDelete this file, or run `npx install-beacon enable`, to turn it back on.\n');
      out(`install-beacon: disabled for every project of this user account (${file}): its installs and programs send nothing; other accounts (root, sudo, CI) and HOMEs have their own`);
    } else if (command === 'enable') {
      const was = realProbes.exists(file);
      fs.rmSync(file, { force: true });
      out(was ? `install-beacon: this account's opt-out is off (${file} removed)` : `install-beacon: this account's opt-out was not on (no ${file}): nothing to change`);
      const env = envOptOut(host.env);
      if (env) out(`install-beacon: still off in this shell: ${env.name}=${env.value}`);
    } else {
      const off = realProbes.exists(file);
      out(`install-beacon: this account's opt-out: ${off ? 'on (disabled)' : 'off'} (${file})`);
      const env = envOptOut(host.env);
      out(`install-beacon: environment opt-out: ${env ? `${env.name}=${env.value} (in this shell only: set it wherever installs and programs run)` : 'none in this shell'}`);
      const dir = projectDirOf(realDir(host.cwd));
      const pkg = readPkg(dir);
      if (pkg) {
        const setting = projectOptOut(pkg);
        out(`install-beacon: project opt-out: ${setting ? `on: ${setting}` : 'off'} (${path.join(dir, 'package.json')})`);
        for (const note of projectSettingNotes(pkg)) out(`install-beacon: note: ${note}`);
      }
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
  const parsed = parseArgs('listen', args, { valued: ['--port'] });
  if (!parsed.ok) return USAGE_ERROR;
  const raw = String(parsed.flags.get('--port') ?? DEFAULT_LISTEN_PORT);
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
