// Badges: a shields.io endpoint badge (exactly its schema: shields rejects
// unknown keys) and the same badge as a self-contained SVG.

export interface EndpointBadge {
  schemaVersion: 1;
  label: string;
  message: string;
  color: string;
}

/** 999, 1.2k, 12k, 1.2M, 3.4B */
export function compact(n: number): string {
  const units: Array<[number, string]> = [[1e9, 'B'], [1e6, 'M'], [1e3, 'k']];
  for (const [size, suffix] of units) {
    if (n >= size) {
      const v = n / size;
      const text = v < 10 ? (Math.floor(v * 10) / 10).toFixed(1).replace(/\.0$/, '') : String(Math.floor(v));
      return text + suffix;
    }
  }
  return String(n);
}

export function endpointBadge(weekly: number): EndpointBadge {
  return { schemaVersion: 1, label: 'installs', message: `${compact(weekly)}/week`, color: weekly > 0 ? 'brightgreen' : 'lightgrey' };
}

const COLORS: Record<string, string> = { brightgreen: '#4c1', lightgrey: '#9f9f9f' };

const escapeXml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// Verdana 11px is about 6.5 px per character on average; close enough for short labels.
const textWidth = (s: string): number => Math.round(s.length * 6.5) + 10;

export function badgeSvg(b: EndpointBadge): string {
  const lw = textWidth(b.label);
  const mw = textWidth(b.message);
  const w = lw + mw;
  const label = escapeXml(b.label);
  const message = escapeXml(b.message);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="20" role="img" aria-label="${label}: ${message}"><title>${label}: ${message}</title>` +
    `<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>` +
    `<clipPath id="r"><rect width="${w}" height="20" rx="3" fill="#fff"/></clipPath>` +
    `<g clip-path="url(#r)"><rect width="${lw}" height="20" fill="#555"/><rect x="${lw}" width="${mw}" height="20" fill="${COLORS[b.color] ?? '#9f9f9f'}"/><rect width="${w}" height="20" fill="url(#s)"/></g>` +
    `<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">` +
    `<text x="${lw / 2}" y="14">${label}</text><text x="${lw + mw / 2}" y="14">${message}</text></g></svg>`;
}
