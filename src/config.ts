import { parseTemplate, type Template } from './template.js';

// The author's `installBeacon` settings in their package.json, validated.

export type Delivery = 'auto' | 'background' | 'inline';

export interface BeaconConfig {
  template: Template;
  /** false: skip installs in CI. */
  ci: boolean;
  delivery: Delivery;
  /** Whole-request deadline for inline delivery. */
  timeoutMs: number;
}

export const DEFAULTS = { ci: true, delivery: 'auto' as Delivery, timeoutMs: 1500 };
export const KNOWN_KEYS = ['url', 'ci', 'delivery', 'timeoutMs', 'enabled'] as const;
const DELIVERIES: readonly Delivery[] = ['auto', 'background', 'inline'];
export const TIMEOUT_RANGE = { min: 100, max: 10_000 };

export type ConfigResult =
  | { ok: true; config: BeaconConfig; warnings: string[]; disabledByAuthor: boolean }
  | { ok: false; errors: string[]; warnings: string[] };

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** JSON text as npm reads a package.json (json-parse-even-better-errors): a leading byte-order mark is dropped. Throws as JSON.parse. */
export const parseJson = (text: string): unknown => JSON.parse(text.replace(/^\uFEFF/, ''));

/** A non-empty string, or undefined (a package.json's name or version). */
export const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

/**
 * Validate the config. `raw` is the value of package.json's `installBeacon`
 * (an object, or a bare URL string as shorthand); `positional` is a template
 * given on the command line, which wins over `url`.
 */
export function parseConfig(raw: unknown, positional?: string): ConfigResult {
  const errors: string[] = [];
  const warnings: string[] = [];
  let settings: Record<string, unknown>;
  if (raw === undefined) settings = {};
  else if (typeof raw === 'string') settings = { url: raw };
  else if (isObject(raw)) settings = raw;
  else return { ok: false, errors: ['"installBeacon" must be an object (or a URL string)'], warnings };

  for (const key of Object.keys(settings)) {
    if (!(KNOWN_KEYS as readonly string[]).includes(key)) warnings.push(`unknown key "installBeacon.${key}" is ignored (known: ${KNOWN_KEYS.join(', ')})`);
  }

  const source = positional ?? settings.url;
  let template: Template | undefined;
  if (source === undefined) errors.push('no URL template: set "installBeacon": {"url": "https://..."} in package.json or pass it as "install-beacon <url>"');
  else {
    const parsed = parseTemplate(source);
    if (parsed.ok) template = parsed.template;
    else errors.push(`${positional !== undefined ? 'the URL argument' : '"installBeacon.url"'}: ${parsed.error}`);
  }

  const ci = settings.ci ?? DEFAULTS.ci;
  if (typeof ci !== 'boolean') errors.push('"installBeacon.ci" must be true or false');
  const delivery = settings.delivery ?? DEFAULTS.delivery;
  if (!DELIVERIES.includes(delivery as Delivery)) errors.push(`"installBeacon.delivery" must be one of ${DELIVERIES.map((d) => `"${d}"`).join(', ')}`);
  const timeoutMs = settings.timeoutMs ?? DEFAULTS.timeoutMs;
  // Equivalent mutant: the typeof test set to false (Number.isInteger is false for
  // every non-number already); it stays as the type guard for the comparisons.
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < TIMEOUT_RANGE.min || timeoutMs > TIMEOUT_RANGE.max) {
    errors.push(`"installBeacon.timeoutMs" must be a whole number of milliseconds from ${TIMEOUT_RANGE.min} to ${TIMEOUT_RANGE.max}`);
  }
  const enabled = settings.enabled ?? true;
  if (typeof enabled !== 'boolean') errors.push('"installBeacon.enabled" must be true or false');

  if (errors.length > 0 || !template) return { ok: false, errors, warnings };
  return {
    ok: true,
    config: { template, ci: ci as boolean, delivery: delivery as Delivery, timeoutMs: timeoutMs as number },
    warnings,
    disabledByAuthor: enabled === false,
  };
}

/**
 * Values of a project's `"enabled"` that mean "off". Not only `false`: a person
 * who wrote `"enabled": "false"` (or 0, "no", "off") clearly meant to opt out,
 * and an opt-out that silently does nothing is the worst outcome. The author's
 * own `installBeacon.enabled` stays strict (`check` flags a non-boolean there).
 */
export function meansOff(value: unknown): boolean {
  if (value === false || value === 0) return true;
  return typeof value === 'string' && ['false', '0', 'no', 'off'].includes(value.trim().toLowerCase());
}

const PROJECT_SETTINGS = [
  { key: 'installBeacon', label: '"installBeacon"' },
  { key: 'scarfSettings', label: '"scarfSettings"' },
] as const;

/** The installing project's opt-out in its root package.json, if any, as a person would write it. */
export function projectOptOut(rootPkg: unknown): string | undefined {
  if (!isObject(rootPkg)) return undefined;
  for (const { key, label } of PROJECT_SETTINGS) {
    const setting = rootPkg[key];
    if (!isObject(setting) || !meansOff(setting.enabled)) continue;
    const written = JSON.stringify(setting.enabled);
    return `${label}: {"enabled": ${written}}${setting.enabled === false ? '' : ` (${typeof setting.enabled === 'string' ? 'a string' : 'a number'}, read as false)`}`;
  }
  return undefined;
}

/** A project's `"enabled"` value that is neither on nor off (for `explain` and `status`): it is not an opt-out. */
export function projectSettingNotes(rootPkg: unknown): string[] {
  if (!isObject(rootPkg)) return [];
  const notes: string[] = [];
  for (const { key, label } of PROJECT_SETTINGS) {
    const setting = rootPkg[key];
    if (!isObject(setting) || !('enabled' in setting) || meansOff(setting.enabled)) continue;
    const v = setting.enabled;
    if (v === true || (typeof v === 'string' && ['true', '1', 'yes', 'on'].includes(v.trim().toLowerCase())) || v === 1) continue;
    notes.push(`${label}: {"enabled": ${JSON.stringify(v) ?? String(v)}} is not understood, so it is not an opt-out: write "enabled": false`);
  }
  return notes;
}
