// The loopback DNS server answers REFUSED for names outside every zone it holds. The SPF suite
// says "a name not in zonedata does not exist", so each top-level domain in use is added as an
// empty entry: any other name under it then answers NXDOMAIN (or NODATA for an empty non-terminal).
import type { Zones } from './memory-resolver';

const usualTopLevels = ['com', 'net', 'org', 'arpa', 'example', 'test', 'invalid'];

function topLabel(name: string): string | undefined {
  return name.replace(/\.$/, '').split('.').pop()?.toLowerCase() || undefined;
}

// RFC 7208 7.3 URL escaping, as %{H} produces it.
function urlEscaped(text: string): string {
  return Array.from(new TextEncoder().encode(text), (byte) => {
    const char = String.fromCharCode(byte);
    return /[A-Za-z0-9\-._~]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }).join('');
}

/**
 * `zones` plus an empty entry for each top-level domain its names and the usual test names use,
 * and for the top label of each name in `alsoNames` as given and URL-escaped (the suite builds
 * names from the HELO with %{h} and %{H}, some of them single labels like "JUMPIN%27%20JUPITER").
 */
export function withTopLevels(zones: Zones, alsoNames: string[] = []): Zones {
  const out: Zones = {};
  for (const top of usualTopLevels) out[top] = {};
  for (const name of [...Object.keys(zones), ...alsoNames, ...alsoNames.map(urlEscaped)]) {
    const top = topLabel(name);
    if (top) out[top] = {};
  }
  return { ...out, ...zones };
}
