/**
 * Registry host grammar and normalisation, shared by reference parsing and model globs so that a policy's
 * host and a pod's host are compared in the same canonical form.
 */

/** The registry a reference names when it names none. */
export const DOCKER_HUB = 'docker.io';

// Other spellings of Docker Hub. Left unnormalised, `index.docker.io/x/y` would escape a policy written for
// `docker.io/x/**` while the runtime pulls the very same image.
export const DOCKER_HUB_ALIASES: ReadonlySet<string> = new Set(['index.docker.io', 'registry-1.docker.io']);

// Validated on the text as written, before lower-casing: some non-ASCII letters lower-case to ASCII (the
// Kelvin sign U+212A becomes 'k'), which would let a host that no runtime accepts pass as a valid one.
const DOMAIN_LABEL = /^[A-Za-z0-9-]+$/;
const IPV6_GROUP = /^[0-9A-Fa-f]{1,4}$/;
const PORT = /^[0-9]{1,5}$/;

export type HostParse =
  | { readonly ok: true; readonly registry: string }
  | { readonly ok: false; readonly error: string };

/**
 * True when the first '/'-separated component of a name is a registry host rather than a path component
 * (the distribution/reference rule: it has a '.' or a ':', or it is localhost; brackets start an IPv6 host).
 */
export function looksLikeRegistryHost(component: string): boolean {
  return (
    component.includes('.') ||
    component.includes(':') ||
    component.startsWith('[') ||
    component.toLowerCase() === 'localhost'
  );
}

/** Validates `host[:port]` (DNS-style name, IPv4, or bracketed IPv6) and returns its canonical form. */
export function parseRegistryHost(host: string): HostParse {
  let name: string;
  let portPart: string;
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close === -1) return fail(`registry host ${quote(host)} has no closing "]" for its IPv6 address`);
    const address = host.slice(1, close);
    if (!isIpv6(address)) return fail(`registry host ${quote(host)} is not a valid IPv6 address`);
    name = host.slice(0, close + 1);
    portPart = host.slice(close + 1);
    if (portPart !== '' && !portPart.startsWith(':')) {
      return fail(`registry host ${quote(host)} has text after its IPv6 address`);
    }
  } else {
    const colon = host.indexOf(':');
    name = colon === -1 ? host : host.slice(0, colon);
    portPart = colon === -1 ? '' : host.slice(colon);
    const error = checkDomainName(name, host);
    if (error !== undefined) return fail(error);
  }
  if (portPart !== '') {
    const error = checkPort(portPart.slice(1), host);
    if (error !== undefined) return fail(error);
  }
  const registry = name.toLowerCase() + portPart;
  return { ok: true, registry: DOCKER_HUB_ALIASES.has(registry) ? DOCKER_HUB : registry };
}

function checkDomainName(name: string, host: string): string | undefined {
  if (name === '') return `registry host ${quote(host)} has no name before its port`;
  for (const label of name.split('.')) {
    if (label === '')
      return `registry host ${quote(host)} has an empty label (leading, trailing or double ".")`;
    if (!DOMAIN_LABEL.test(label) || label.startsWith('-') || label.endsWith('-')) {
      return `registry host ${quote(host)} is invalid: each "."-separated label is ASCII letters, digits and inner "-"`;
    }
  }
  return undefined;
}

function checkPort(port: string, host: string): string | undefined {
  if (!PORT.test(port))
    return `registry port ${quote(port)} in ${quote(host)} must be a number from 1 to 65535`;
  // A leading zero would make `host:05000` and `host:5000` two registries to a policy but one to the runtime.
  if (port.startsWith('0') || Number(port) > 65535) {
    return `registry port ${quote(port)} in ${quote(host)} must be a number from 1 to 65535 without leading zeros`;
  }
  return undefined;
}

// Uncompressed or '::'-compressed IPv6, as distribution/reference accepts; zone identifiers and embedded
// IPv4 are excluded there too.
function isIpv6(address: string): boolean {
  const halves = address.split('::');
  if (halves.length > 2) return false;
  const groups = halves.map((half) => (half === '' ? [] : half.split(':')));
  const count = groups.reduce((sum, g) => sum + g.length, 0);
  if (!groups.every((g) => g.every((group) => IPV6_GROUP.test(group)))) return false;
  return halves.length === 2 ? count <= 7 : count === 8;
}

function fail(error: string): HostParse {
  return { ok: false, error };
}

const QUOTE_MAX = 80;

/** JSON-quotes a piece of untrusted input for an error message: control characters escaped, length bounded. */
export function quote(text: string): string {
  return JSON.stringify(text.length > QUOTE_MAX ? `${text.slice(0, QUOTE_MAX)}...` : text);
}
