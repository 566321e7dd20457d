import { describe, expect, it } from 'vitest';
import {
  formatReference,
  isPinned,
  type ModelReference,
  parseReference,
  repositoryOf,
} from '../../../src/reference/reference.ts';

const HEX64 = 'a'.repeat(32) + '0123456789abcdef'.repeat(2);
const HEX128 = '0123456789abcdef'.repeat(8);
const SHA256 = `sha256:${HEX64}`;
const SHA512 = `sha512:${HEX128}`;

function parsed(input: string): ModelReference {
  const result = parseReference(input);
  if (!result.ok) throw new Error(`expected ${JSON.stringify(input)} to parse, got: ${result.error}`);
  return result.ref;
}

function refused(input: string): string {
  const result = parseReference(input);
  if (result.ok)
    throw new Error(`expected ${JSON.stringify(input)} to be refused, got ${formatReference(result.ref)}`);
  return result.error;
}

describe('parseReference: valid references', () => {
  it.each<[string, ModelReference]>([
    // Docker Hub short names
    ['bert', { registry: 'docker.io', repository: 'library/bert' }],
    ['bert:v1', { registry: 'docker.io', repository: 'library/bert', tag: 'v1' }],
    ['acme/bert', { registry: 'docker.io', repository: 'acme/bert' }],
    ['acme/team/bert:latest', { registry: 'docker.io', repository: 'acme/team/bert', tag: 'latest' }],
    ['docker.io/bert', { registry: 'docker.io', repository: 'library/bert' }],
    ['docker.io/library/bert', { registry: 'docker.io', repository: 'library/bert' }],
    ['index.docker.io/acme/bert', { registry: 'docker.io', repository: 'acme/bert' }],
    ['registry-1.docker.io/bert', { registry: 'docker.io', repository: 'library/bert' }],
    ['INDEX.Docker.IO/acme/bert', { registry: 'docker.io', repository: 'acme/bert' }],
    // a single component is a repository, even when it looks like host:port
    ['localhost:5000', { registry: 'docker.io', repository: 'library/localhost', tag: '5000' }],
    ['registry.example.com', { registry: 'docker.io', repository: 'library/registry.example.com' }],
    // registries
    ['localhost/bert', { registry: 'localhost', repository: 'bert' }],
    ['LocalHost/bert', { registry: 'localhost', repository: 'bert' }],
    ['localhost:5000/models/bert:v2', { registry: 'localhost:5000', repository: 'models/bert', tag: 'v2' }],
    ['Registry.Example.COM/models/bert', { registry: 'registry.example.com', repository: 'models/bert' }],
    ['registry:5000/bert', { registry: 'registry:5000', repository: 'bert' }],
    ['127.0.0.1:65535/bert', { registry: '127.0.0.1:65535', repository: 'bert' }],
    ['my-registry.example.com:1/bert', { registry: 'my-registry.example.com:1', repository: 'bert' }],
    // IPv6
    ['[::1]/bert', { registry: '[::1]', repository: 'bert' }],
    ['[::1]:5000/models/bert:v1', { registry: '[::1]:5000', repository: 'models/bert', tag: 'v1' }],
    ['[2001:DB8::FF]:443/bert', { registry: '[2001:db8::ff]:443', repository: 'bert' }],
    ['[1:2:3:4:5:6:7:8]/bert', { registry: '[1:2:3:4:5:6:7:8]', repository: 'bert' }],
    // oci:// prefix and surrounding whitespace
    ['oci://registry.example.com/bert', { registry: 'registry.example.com', repository: 'bert' }],
    [
      'OCI://registry.example.com/bert:v1',
      { registry: 'registry.example.com', repository: 'bert', tag: 'v1' },
    ],
    ['  \t oci://ghcr.io/acme/bert \n', { registry: 'ghcr.io', repository: 'acme/bert' }],
    ['\n bert:v1 ', { registry: 'docker.io', repository: 'library/bert', tag: 'v1' }],
    // separators
    ['ghcr.io/a.b_c__d---e/f-g', { registry: 'ghcr.io', repository: 'a.b_c__d---e/f-g' }],
    ['acme/a_b__c-d', { registry: 'docker.io', repository: 'acme/a_b__c-d' }],
    ['ghcr.io/0/1/2/3', { registry: 'ghcr.io', repository: '0/1/2/3' }],
    // tags keep their case
    ['ghcr.io/bert:V1.0_rc-1', { registry: 'ghcr.io', repository: 'bert', tag: 'V1.0_rc-1' }],
    ['ghcr.io/bert:_', { registry: 'ghcr.io', repository: 'bert', tag: '_' }],
    [`ghcr.io/bert:${'t'.repeat(128)}`, { registry: 'ghcr.io', repository: 'bert', tag: 't'.repeat(128) }],
    // digests, with and without a tag
    [`ghcr.io/bert@${SHA256}`, { registry: 'ghcr.io', repository: 'bert', digest: SHA256 }],
    [`ghcr.io/bert@${SHA512}`, { registry: 'ghcr.io', repository: 'bert', digest: SHA512 }],
    [`ghcr.io/bert:v1@${SHA256}`, { registry: 'ghcr.io', repository: 'bert', tag: 'v1', digest: SHA256 }],
    [`bert:v1@${SHA256}`, { registry: 'docker.io', repository: 'library/bert', tag: 'v1', digest: SHA256 }],
    [
      `oci://localhost:5000/m/bert:v1@${SHA256}`,
      { registry: 'localhost:5000', repository: 'm/bert', tag: 'v1', digest: SHA256 },
    ],
  ])('%j', (input, expected) => {
    expect(parsed(input)).toStrictEqual(expected);
  });

  it('returns a frozen reference', () => {
    expect(Object.isFrozen(parsed('ghcr.io/bert'))).toBe(true);
  });

  it('accepts a name of exactly 255 characters', () => {
    const repository = `${'a'.repeat(200)}/${'b'.repeat(255 - 'ghcr.io/'.length - 201)}`;
    expect(parsed(`ghcr.io/${repository}`).repository).toBe(repository);
  });
});

describe('parseReference: refusals', () => {
  it.each<[string, RegExp]>([
    // empty and whitespace
    ['', /empty/],
    ['   \n\t ', /empty/],
    ['oci://', /empty/],
    ['oci://  ', /empty/],
    // schemes
    ['https://registry.example.com/bert', /unsupported scheme/],
    ['oci://oci://registry.example.com/bert', /unsupported scheme/],
    // structure
    [':v1', /names no repository/],
    [`@${SHA256}`, /names no repository/],
    ['registry.example.com/', /no repository/],
    ['/bert', /empty path component/],
    ['acme//bert', /empty path component/],
    ['acme/bert/', /empty path component/],
    ['ghcr.io/acme//bert', /empty path component/],
    // upper case repositories
    ['Bert', /must be lower-case/],
    ['ghcr.io/Acme/bert', /"Acme\/bert" must be lower-case/],
    ['Acme/bert', /must be lower-case \(a registry host needs/],
    // invalid components
    ['ghcr.io/-bert', /component "-bert" is invalid/],
    ['ghcr.io/bert-', /component "bert-" is invalid/],
    ['ghcr.io/a..b', /component "a\.\.b" is invalid/],
    ['ghcr.io/a___b', /component "a___b" is invalid/],
    ['ghcr.io/a._b', /component "a\._b" is invalid/],
    ['ghcr.io/be rt', /component "be rt" is invalid/],
    ['ghcr.io/bért', /component "bért" is invalid/],
    ['ghcr.io/bert:v1/x', /component "bert:v1" is invalid/],
    // hosts and ports
    ['localhost:0/bert', /port "0" .* 1 to 65535/],
    ['localhost:65536/bert', /port "65536" .* 1 to 65535/],
    ['localhost:99999999999/bert', /port "99999999999" .* 1 to 65535/],
    ['localhost:05000/bert', /leading zeros/],
    ['localhost:/bert', /port "" .* 1 to 65535/],
    ['localhost:http/bert', /port "http"/],
    ['localhost:5000:6000/bert', /port "5000:6000"/],
    [':5000/bert', /no name before its port/],
    ['-registry.example.com/bert', /registry host "-registry.example.com" is invalid/],
    ['registry-.example.com/bert', /is invalid/],
    ['registry..example.com/bert', /empty label/],
    ['registry.example.com./bert', /empty label/],
    ['registry_1.example.com/bert', /is invalid/],
    ['regi\u212Atry.example.com/bert', /is invalid/], // Kelvin sign lower-cases to 'k'
    ['[::1/bert', /no closing "\]"/],
    ['[::1]x/bert', /text after its IPv6 address/],
    ['[::1]:0/bert', /port "0"/],
    ['[1::2::3]/bert', /not a valid IPv6 address/],
    ['[1:2:3:4:5:6:7:8:9]/bert', /not a valid IPv6 address/],
    ['[1:2:3:4:5:6:7]/bert', /not a valid IPv6 address/],
    ['[12345::1]/bert', /not a valid IPv6 address/],
    ['[::ffff:1.2.3.4]/bert', /not a valid IPv6 address/],
    ['[fe80::1%eth0]/bert', /not a valid IPv6 address/],
    ['[]/bert', /not a valid IPv6 address/],
    // tags
    ['bert:', /tag is empty/],
    ['bert:.v1', /tag ".v1" is invalid/],
    ['bert:-v1', /tag "-v1" is invalid/],
    ['bert:v1+build', /tag "v1\+build" is invalid/],
    ['bert:v1:v2', /tag "v1:v2" is invalid/],
    [`bert:${'t'.repeat(129)}`, /longer than 128 characters/],
    // digests
    ['bert@', /digest is empty/],
    ['bert@sha256', /must be algorithm:hex/],
    ['bert@sha256:abc', /^digest "sha256:abc" must be 64 lower-case hex characters$/],
    [`bert@sha256:${HEX64}0`, /must be 64 lower-case hex characters/],
    [`bert@sha256:${HEX64.slice(1)}g`, /must be 64 lower-case hex characters/],
    [`bert@sha256:${HEX64.toUpperCase()}`, /must use lower-case hex/],
    [`bert@sha256:${HEX128}`, /must be 64 lower-case hex characters/],
    [`bert@sha512:${HEX64}`, /must be 128 lower-case hex characters/],
    [`bert@SHA256:${HEX64}`, /algorithm "SHA256" is not supported/],
    [`bert@md5:${HEX64.slice(0, 32)}`, /algorithm "md5" is not supported: use sha256 or sha512/],
    [`bert@__proto__:${HEX64}`, /algorithm "__proto__" is not supported/],
    [`bert@sha256:${HEX64}@sha256:${HEX64}`, /must be 64 lower-case hex characters/],
    [`bert@sha256:${HEX64}:v1`, /must be 64 lower-case hex characters/],
    // an image id is not a name
    [HEX64, /64-character hex id/],
    // length
    [`ghcr.io/${'a'.repeat(248)}`, /longer than 255 characters/],
    [`${'a'.repeat(251)}`, /"docker.io\/library\/a.*" is longer than 255/],
    ['a'.repeat(1025), /longer than 1024 characters/],
    [` ${'a'.repeat(1024)}`, /longer than 1024 characters/],
  ])('%j', (input, message) => {
    expect(refused(input)).toMatch(message);
  });

  it('refuses what is not a string, without throwing', () => {
    for (const value of [undefined, null, 42, {}, [], Symbol('x')]) {
      expect(parseReference(value as unknown as string)).toStrictEqual({
        ok: false,
        error: 'reference must be a string',
      });
    }
  });

  it('quotes hostile input safely in its messages', () => {
    const error = refused('ghcr.io/a\nb\u0000c');
    expect(error.includes('\n') || error.includes('\u0000')).toBe(false);
    expect(error).toContain('\\n');
    expect(refused(`ghcr.io/${'X'.repeat(500)}`).length).toBeLessThan(200);
  });
});

describe('formatReference, repositoryOf, isPinned', () => {
  it.each<[string, string]>([
    ['bert', 'docker.io/library/bert'],
    ['acme/bert:v1', 'docker.io/acme/bert:v1'],
    ['oci://Localhost:5000/m/bert', 'localhost:5000/m/bert'],
    ['[::1]:5000/bert', '[::1]:5000/bert'],
    [`ghcr.io/bert:v1@${SHA256}`, `ghcr.io/bert:v1@${SHA256}`],
    [`ghcr.io/bert@${SHA512}`, `ghcr.io/bert@${SHA512}`],
  ])('%j formats as %j', (input, canonical) => {
    expect(formatReference(parsed(input))).toBe(canonical);
  });

  it('names the repository with its registry', () => {
    expect(repositoryOf(parsed(`bert:v1@${SHA256}`))).toBe('docker.io/library/bert');
    expect(repositoryOf(parsed('localhost:5000/m/bert:v1'))).toBe('localhost:5000/m/bert');
  });

  it('is pinned only with a digest', () => {
    expect(isPinned(parsed('ghcr.io/bert:v1'))).toBe(false);
    expect(isPinned(parsed(`ghcr.io/bert@${SHA256}`))).toBe(true);
    expect(isPinned(parsed(`ghcr.io/bert:v1@${SHA256}`))).toBe(true);
  });
});
