import { describe, expect, it } from 'vitest';
import { redactUrl } from '../../../src/oci/redact.ts';

describe('redactUrl', () => {
  it('keeps scheme, host and path, never the query, fragment or userinfo', () => {
    expect(redactUrl(new URL('https://u:p@h.example:5000/a/b?x=1#f'))).toBe('https://h.example:5000/a/b');
    expect(redactUrl('http://h/token?X-Amz-Signature=s')).toBe('http://h/token');
  });

  it('cuts what is not a URL, or an opaque one, as text', () => {
    expect(redactUrl('u:secret@h/x?sig=s')).toBe('h/x');
    expect(redactUrl('not a url ?sig=s')).toBe('not a url ');
    expect(redactUrl('mailto:me:pw@h?x')).toBe('h');
  });
});
