// Reading an author's lifecycle scripts ("postinstall": "install-beacon || exit 0")
// the way a shell will run them, for `check` and `explain`. Pure: strings in,
// findings out.
//
// A package manager hands the script to `sh -c` (npm, pnpm, yarn 1, bun on
// POSIX), to `cmd.exe /d /s /c` (npm, pnpm and yarn 1 on Windows), or to its
// own shell (yarn berry, bun's and deno's shells). Only a small common subset
// means the same in all of them, so the rules below are strict on purpose.

export const LIFECYCLE_SCRIPTS = ['preinstall', 'install', 'postinstall'] as const;

/** The line the README recommends. */
export const RECOMMENDED_LINE = 'install-beacon || exit 0';

type Token = { op: string } | { word: string; raw: string; singleQuoted: boolean };

/** Split a script into words and operators as a POSIX shell would (quotes, backslashes; no expansions). */
export function tokenize(script: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < script.length) {
    const ch = script[i]!;
    if (ch === ' ' || ch === '\t') {
      i++;
      continue;
    }
    const two = script.slice(i, i + 2);
    if (two === '&&' || two === '||') {
      tokens.push({ op: two });
      i += 2;
      continue;
    }
    if ('&|;<>()\n'.includes(ch)) {
      tokens.push({ op: ch });
      i++;
      continue;
    }
    let word = '';
    let singleQuoted = false;
    const start = i;
    while (i < script.length && !' \t&|;<>()\n'.includes(script[i]!)) {
      const c = script[i]!;
      if (c === "'") {
        const end = script.indexOf("'", i + 1);
        const stop = end === -1 ? script.length : end;
        word += script.slice(i + 1, stop);
        singleQuoted = true;
        i = stop + 1;
      } else if (c === '"') {
        i++;
        while (i < script.length && script[i] !== '"') {
          if (script[i] === '\\' && i + 1 < script.length && '"\\$`'.includes(script[i + 1]!)) i++;
          word += script[i];
          i++;
        }
        i++;
      } else if (c === '\\' && i + 1 < script.length) {
        word += script[i + 1];
        i += 2;
      } else {
        word += c;
        i++;
      }
    }
    tokens.push({ word, raw: script.slice(start, i), singleQuoted });
  }
  return tokens;
}

/** A word that runs install-beacon: `install-beacon`, `npx install-beacon`, a path ending in install-beacon. */
const RUNS_BEACON = /(?:^|[\\/])install-beacon(?:\.c?js|\.cmd)?$/;

export interface Invocation {
  /** The lifecycle script it is in. */
  script: string;
  /** The template the shell passes as the first argument, if it is a URL. */
  positional?: string;
  /** Problems that can fail the user's install or cut the URL (errors for `check`). */
  errors: string[];
}

const isUrlWord = (w: string): boolean => /^https?:\/\//i.test(w);

const isWord = (t: Token | undefined, w?: string): t is Token & { word: string } => !!t && 'word' in t && (w === undefined || t.word === w);
/** `|| exit 0` at tokens[j]. */
const exitsZeroAt = (tokens: Token[], j: number): boolean => 'op' in (tokens[j] ?? {}) && (tokens[j] as { op: string }).op === '||' && isWord(tokens[j + 1], 'exit') && isWord(tokens[j + 2], '0');

/**
 * Every command in `pkg.scripts`' install scripts that runs install-beacon, with
 * what is wrong with it, following `npm run <script>` (and pnpm's, yarn's, bun's)
 * into the script it names: `"postinstall": "npm run beacon"` with `"beacon":
 * "install-beacon"` fails an install without bin links as surely as the bare line.
 */
export function findInvocations(scripts: Record<string, unknown>): Invocation[] {
  const found: Invocation[] = [];
  const seen = new Set<string>();
  const scan = (name: string, guarded: boolean): void => {
    const text = scripts[name];
    if (typeof text !== 'string' || seen.has(name)) return;
    seen.add(name);
    const tokens = tokenize(text);
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (!isWord(t)) continue;
      // A path into an installed copy (node node_modules/install-beacon/dist/bin.cjs): that folder is not there in a hoisted, pnpm or PnP install.
      if (/node_modules[\\/](\.bin[\\/])?install-beacon\b/.test(t.word)) {
        found.push({ script: name, errors: [`"scripts.${name}": "${t.word}" is not where install-beacon is in your users' installs (npm hoists it, pnpm and yarn store it elsewhere); run the command: "${name}": "${RECOMMENDED_LINE}"`] });
        continue;
      }
      // npm run X, npm run-script X, pnpm run X, yarn run X, yarn X, bun run X: scan X.
      const prev = tokens[i - 1];
      if ((isWord(prev) && /^(npm|pnpm|yarn|bun)$/.test(prev.word) && /^run(-script)?$/.test(t.word)) || (isWord(prev, 'yarn') && t.word in scripts)) {
        const target = /^run/.test(t.word) ? tokens[i + 1] : t;
        let j = i + 1;
        while (isWord(tokens[j])) j++;
        if (isWord(target)) scan(target.word, guarded || exitsZeroAt(tokens, j));
        continue;
      }
      if (!RUNS_BEACON.test(t.word)) continue;
      // The command's first word may be npx, node or a path; install-beacon is one of the words up to the next operator.
      const errors: string[] = [];
      // npx and friends fetch a missing package from the registry: a download (or a prompt) in the middle of the user's install.
      const before = tokens.slice(0, i).reverse();
      const runner = before.find((b) => 'op' in b || /^(npx|bunx|dlx|exec|pnpx)$/.test(b.word));
      if (runner && 'word' in runner) {
        errors.push(`"scripts.${name}": "${runner.word} install-beacon" may download install-beacon from the registry during the user's install; run the installed command: "${name}": "${RECOMMENDED_LINE}"`);
      }
      let j = i + 1;
      const args: Array<{ word: string; raw: string; singleQuoted: boolean }> = [];
      while (j < tokens.length && 'word' in tokens[j]!) args.push(tokens[j++] as { word: string; raw: string; singleQuoted: boolean });
      const first = args[0];
      let positional: string | undefined;
      if (first && isUrlWord(first.word)) {
        positional = first.word;
        if (first.singleQuoted) {
          errors.push(`"scripts.${name}": the URL is in single quotes, which Windows cmd.exe does not treat as quotes; put the URL in "installBeacon": {"url": ...} instead`);
        }
        // The text a reader sees as the URL, up to whitespace or a quote: a shell cuts it at & ; | < > ( ).
        const written = /https?:\/\/[^\s'"]+/i.exec(text.slice(text.indexOf(first.raw)))?.[0] ?? '';
        if (!first.singleQuoted && !/^["']/.test(first.raw) && written !== first.raw) {
          const cut = written.charAt(first.raw.length);
          errors.push(`"scripts.${name}": the shell cuts the URL at "${cut}" (it passes only ${first.word}${cut === '&' ? ', and runs the hook in the background' : ''}); put the URL in "installBeacon": {"url": ...} instead`);
        }
      }
      if (!guarded && !exitsZeroAt(tokens, j) && !errors.some((e) => e.includes('cuts the URL'))) {
        errors.push(`"scripts.${name}": "${text}" fails the user's whole install where the install-beacon command is missing (npm --no-bin-links, a failed download); end it with "|| exit 0", as in "${name}": "${RECOMMENDED_LINE}"`);
      }
      found.push({ script: name, positional, errors });
      i = j;
    }
  };
  for (const name of LIFECYCLE_SCRIPTS) scan(name, false);
  return found;
}

/** Any mention of install-beacon in an install script (usesBeacon's test). */
export function mentionsBeacon(scripts: Record<string, unknown>): boolean {
  return LIFECYCLE_SCRIPTS.some((k) => typeof scripts[k] === 'string' && /\binstall-beacon\b/.test(scripts[k] as string));
}
