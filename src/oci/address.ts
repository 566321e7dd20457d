/**
 * What kind of network an IP address belongs to, for outbound containment: a redirect or a token realm
 * chosen by a registry (or by whoever can answer for it) must not steer the client to the cluster's own
 * network, the node, or a cloud metadata service. Pure: no DNS, no I/O.
 */
import { isIP } from 'node:net';

export type AddressClass =
  | 'public'
  | 'loopback'
  | 'link-local'
  | 'private'
  | 'cgnat'
  | 'metadata'
  | 'unspecified'
  | 'multicast'
  /** Documentation, benchmarking, broadcast, IETF and other special-purpose ranges: never a registry. */
  | 'reserved';

/** Host names that reach a cloud metadata service or the node itself without any DNS answer to check. */
const BLOCKED_NAMES = new Set([
  'localhost',
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
]);

/** Whether a host name (not an address) is one that reaches the node or a metadata service by name. */
export function isBlockedHostName(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/\.$/, '');
  return BLOCKED_NAMES.has(h) || h.endsWith('.localhost');
}

/**
 * Classifies an IP address literal (dotted IPv4, or IPv6 with or without brackets and zone). Returns
 * undefined for anything that is not an address literal. IPv4 embedded in IPv6 (mapped, compatible,
 * NAT64, 6to4) is classified as the IPv4 address it reaches.
 */
export function classifyAddress(literal: string): AddressClass | undefined {
  let s = literal.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  const family = isIP(s);
  if (family === 4) return classifyV4(parseV4(s)!);
  if (family === 6) {
    const bytes = parseV6(s);
    return bytes === undefined ? undefined : classifyV6(bytes);
  }
  return undefined;
}

/** Whether an address of this class may be reached only when its host is governed or allowed. */
export function isContained(c: AddressClass): boolean {
  return c !== 'public';
}

function parseV4(s: string): number[] | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : Number.NaN));
  return out.every((n) => n >= 0 && n <= 255) ? out : undefined;
}

function classifyV4(b: readonly number[]): AddressClass {
  const [a = 0, c = 0, d = 0, e = 0] = b;
  if (a === 169 && c === 254 && d === 169 && e === 254) return 'metadata';
  if (a === 0) return 'unspecified';
  if (a === 127) return 'loopback';
  if (a === 169 && c === 254) return 'link-local';
  if (a === 10 || (a === 172 && c >= 16 && c <= 31) || (a === 192 && c === 168)) return 'private';
  if (a === 100 && c >= 64 && c <= 127) return 'cgnat';
  if (a >= 224 && a <= 239) return 'multicast';
  if (
    a >= 240 || // reserved, and 255.255.255.255 broadcast
    (a === 192 && c === 0 && (d === 0 || d === 2)) || // IETF protocol assignments, TEST-NET-1
    (a === 198 && (c === 18 || c === 19)) || // benchmarking
    (a === 198 && c === 51 && d === 100) || // TEST-NET-2
    (a === 203 && c === 0 && d === 113) || // TEST-NET-3
    (a === 192 && c === 88 && d === 99) // 6to4 relay anycast (deprecated)
  )
    return 'reserved';
  return 'public';
}

/** 16 bytes of an IPv6 address (`::` compression and a trailing dotted IPv4 allowed). */
function parseV6(s: string): number[] | undefined {
  let text = s.toLowerCase();
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    const v4 = parseV4(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail = v4;
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string) => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0] ?? '');
  const rest = halves.length === 2 ? groups(halves[1] ?? '') : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  const bytes: number[] = [];
  for (const g of all) {
    if (!/^[0-9a-f]{1,4}$/.test(g)) return undefined;
    const n = Number.parseInt(g, 16);
    bytes.push(n >> 8, n & 0xff);
  }
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

function classifyV6(b: readonly number[]): AddressClass {
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  const v4 = (at: number) => classifyV4(b.slice(at, at + 4));
  if (zero(0, 16)) return 'unspecified';
  if (zero(0, 15) && b[15] === 1) return 'loopback';
  // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, deprecated): the IPv4 address is what is reached.
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return v4(12);
  if (zero(0, 12)) return v4(12);
  // 64:ff9b::/96 well-known NAT64 prefix: a translator reaches the embedded IPv4 address.
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12)) return v4(12);
  // 64:ff9b:1::/48 local-use NAT64 prefix: translated by the operator's own network.
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && b[4] === 0 && b[5] === 1)
    return 'private';
  // 2002::/16 6to4: the IPv4 address in bits 16..48 is the tunnel's end.
  if (b[0] === 0x20 && b[1] === 0x02) return v4(2);
  // fd00:ec2::254, the EC2 instance metadata service over IPv6.
  if (b[0] === 0xfd && b[1] === 0x00 && b[2] === 0x0e && b[3] === 0xc2 && zero(4, 14) && b[14] === 0x02) {
    if (b[15] === 0x54) return 'metadata';
  }
  const first = b[0] ?? 0;
  const second = b[1] ?? 0;
  if ((first & 0xfe) === 0xfc) return 'private'; // fc00::/7 unique local
  if (first === 0xfe && (second & 0xc0) === 0x80) return 'link-local'; // fe80::/10
  if (first === 0xfe && (second & 0xc0) === 0xc0) return 'private'; // fec0::/10 site-local (deprecated)
  if (first === 0xff) return 'multicast';
  // 2001::/32 Teredo, 2001:db8::/32 documentation, 100::/64 discard, 2001:10::/28 ORCHID.
  if (first === 0x20 && second === 0x01 && b[2] === 0x00 && b[3] === 0x00) return 'reserved';
  if (first === 0x20 && second === 0x01 && b[2] === 0x0d && b[3] === 0xb8) return 'reserved';
  if (first === 0x01 && second === 0x00 && zero(2, 8)) return 'reserved';
  if (first === 0x20 && second === 0x01 && b[2] === 0x00 && ((b[3] ?? 0) & 0xf0) === 0x10) return 'reserved';
  // Outside 2000::/3 nothing is globally routed unicast.
  if ((first & 0xe0) !== 0x20) return 'reserved';
  return 'public';
}
