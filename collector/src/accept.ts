// What a route accepts beyond its shape: the author's own rules, given after the --route they
// restrict (config.ts), parsed once at start and applied by checkRules, the last step of checkEvent
// (routes.ts), so that every way an event comes in meets the same rules.
//   --accept-package NAME | @scope/*   the packages the route accepts (repeatable)
//   --accept VAR=RULE                  the values of one variable, any name (once per variable)
// A variable no rule names has the bounds every value has (routes.ts) and nothing more.
import type { Rejection } from './routes.js';

const NUM = '(?:0|[1-9]\\d*)';
const PRE = `(?:${NUM}|\\d*[a-z-][\\da-z-]*)`;
/** A Semantic Versioning 2.0.0 version: 1.2.3, 1.2.3-rc.1, 1.2.3+build.5 (no "v", no range). */
const SEMVER = new RegExp(`^${NUM}\\.${NUM}\\.${NUM}(?:-${PRE}(?:\\.${PRE})*)?(?:\\+[\\da-z-]+(?:\\.[\\da-z-]+)*)?$`, 'i');

/** One rule: the text it was given as (for messages), and its test of a decoded value. */
export interface Rule {
  text: string;
  accepts(value: string): boolean;
}

export interface Rules {
  /** --accept-package: the names and @scope/* accepted; undefined: any valid name. */
  packages?: Rule;
  /** --accept VAR=RULE, per variable. */
  values: ReadonlyMap<string, Rule>;
}

export const NO_RULES: Rules = { packages: undefined, values: new Map() };

type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** --accept-package NAME or @scope/* (repeatable): the packages a route's {name} may be. */
export function parsePackages(specs: readonly string[], isPackageName: (name: string) => boolean): Parsed<Rule | undefined> {
  if (specs.length === 0) return { ok: true, value: undefined };
  const names = new Set<string>();
  const scopes: string[] = [];
  for (const spec of specs) {
    const scope = /^(@[^/]+\/)\*$/.exec(spec);
    if (scope && isPackageName(`${scope[1]}x`)) scopes.push(scope[1]!);
    else if (isPackageName(spec)) names.add(spec);
    else return { ok: false, error: `--accept-package "${spec}" is not a package name (NAME, @scope/NAME or @scope/*)` };
  }
  return { ok: true, value: { text: specs.join(', '), accepts: (pkg) => names.has(pkg) || scopes.some((s) => pkg.startsWith(s)) } };
}

/**
 * --accept VAR=RULE. RULE is `semver`, a `/regular expression/` the whole value must match, or a
 * comma-separated list of the values accepted.
 */
export function parseAccept(spec: string): Parsed<[string, Rule]> {
  const m = /^([A-Za-z0-9_.-]{1,64})=(.+)$/s.exec(spec);
  if (!m) return { ok: false, error: `--accept "${spec}": give VARIABLE=RULE, e.g. version=semver or platform=linux,darwin,win32` };
  const [, variable, text] = m as unknown as [string, string, string];
  const fail = (why: string): Parsed<[string, Rule]> => ({ ok: false, error: `--accept ${spec}: ${why}` });
  if (variable === 'name') return fail('give the accepted packages with --accept-package NAME or --accept-package @scope/*');
  if (text === 'semver') return { ok: true, value: [variable, { text, accepts: (v) => SEMVER.test(v) }] };
  if (text.length > 1 && text.startsWith('/') && text.endsWith('/')) {
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${text.slice(1, -1)})$`, 'u');
    } catch (e) {
      return fail(`not a regular expression (${(e as Error).message})`);
    }
    return { ok: true, value: [variable, { text, accepts: (v) => re.test(v) }] };
  }
  const values = text.split(',');
  if (values.includes('')) return fail('an empty value in the list');
  const set = new Set(values);
  return { ok: true, value: [variable, { text, accepts: (v) => set.has(v) }] };
}

/** One route's rules from its --accept-package and --accept flags; `fixed` is the route's PACKAGE=, if any. */
export function parseRules(packages: readonly string[], accepts: readonly string[], fixed: string | undefined, isPackageName: (name: string) => boolean): Parsed<Rules> {
  const p = parsePackages(packages, isPackageName);
  if (!p.ok) return p;
  const values = new Map<string, Rule>();
  for (const spec of accepts) {
    const a = parseAccept(spec);
    if (!a.ok) return a;
    const [variable, rule] = a.value;
    if (values.has(variable)) return { ok: false, error: `--accept ${variable} is given twice for one route (list the values with commas)` };
    values.set(variable, rule);
  }
  if (fixed !== undefined && p.value && !p.value.accepts(fixed)) return { ok: false, error: `the route's package "${fixed}" is not among its --accept-package ${p.value.text}` };
  return { ok: true, value: { packages: p.value, values } };
}

/** The rules as one line for the start-up output; undefined when there are none. */
export function describeRules(rules: Rules): string | undefined {
  const parts = [...(rules.packages ? [`package ${rules.packages.text}`] : []), ...[...rules.values].map(([v, r]) => `${v} ${r.text}`)];
  return parts.length ? parts.join('; ') : undefined;
}

/** A decoded event against a route's rules. */
export function checkRules(rules: Rules, pkg: string, vars: Readonly<Record<string, string>>): Rejection | undefined {
  if (rules.packages && !rules.packages.accepts(pkg)) return 'package_not_accepted';
  for (const [variable, rule] of rules.values) {
    const v = vars[variable];
    // An absent variable is not stored, so there is nothing to refuse.
    if (v !== undefined && !rule.accepts(v)) return 'value_not_accepted';
  }
  return undefined;
}
