import { readFileSync } from 'node:fs';

// The README's examples, as tests run them: the fenced block after `<!-- example: ID -->` in
// collector/README.md, with the documentation's host replaced by the collector under test.

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
export const EXAMPLE_HOST = 'https://beacon.example.com';

export function example(id: string, origin?: string): string {
  const m = new RegExp(`<!-- example: ${id} -->\\n\`\`\`[a-z]*\\n([\\s\\S]*?)\\n\`\`\`\\n`).exec(README);
  if (!m) throw new Error(`collector/README.md has no example "${id}"`);
  return origin === undefined ? m[1]! : m[1]!.split(EXAMPLE_HOST).join(origin);
}

/** The --route value of an example's `install-beacon-collector --route '...'` line. */
export function exampleRoute(id: string): string {
  const m = /--route '([^']+)'/.exec(example(id));
  if (!m) throw new Error(`example "${id}" has no --route '...'`);
  return m[1]!;
}
