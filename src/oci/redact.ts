/**
 * URLs as messages and logs may show them: scheme, host and path only. A query string can carry a signed
 * URL's signature or a token (bearer realms and redirect targets often do), and userinfo a password; a
 * message reaches `verify --json`, AdmissionReview answers, Events and logs, so neither is ever in one.
 */

/** `scheme://host/path` of a URL; for a string that is not a URL, what is left without any `?query`, `#fragment` or `userinfo@`. */
export function redactUrl(url: URL | string): string {
  let parsed: URL | undefined;
  try {
    parsed = typeof url === 'string' ? new URL(url) : url;
  } catch {
    parsed = undefined;
  }
  // An opaque URL (`u:secret@h/x` parses, with scheme `u:`) has no host to keep: cut it as text.
  if (parsed !== undefined && parsed.host !== '')
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  // What precedes any query or fragment, and follows any userinfo.
  const head = String(url).split(/[?#]/, 1)[0] ?? '';
  return head.slice(head.lastIndexOf('@') + 1).slice(0, 512);
}
