import { describe, expect, it } from 'vitest';
import { CredentialsError, credentialsFromDockerConfig } from '../../../src/oci/credentials.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('credentialsFromDockerConfig', () => {
  it('reads auth, username/password and identitytoken entries, matched by exact host', () => {
    const store = credentialsFromDockerConfig(
      JSON.stringify({
        auths: {
          'registry.example.com': { auth: b64('alice:pa:ss') },
          'https://other.example.com:5000/v1/': { username: 'bob', password: 'pw' },
          'ghcr.io': { identitytoken: 'refresh-me' },
        },
      }),
    );
    expect(store.get('registry.example.com')).toEqual({
      kind: 'basic',
      username: 'alice',
      password: 'pa:ss',
    });
    expect(store.get('REGISTRY.example.com')).toEqual({
      kind: 'basic',
      username: 'alice',
      password: 'pa:ss',
    });
    expect(store.get('other.example.com:5000')).toEqual({ kind: 'basic', username: 'bob', password: 'pw' });
    expect(store.get('ghcr.io')).toEqual({ kind: 'identityToken', identityToken: 'refresh-me' });
    // Exact host: no parent domain, no other port, no suffix match.
    expect(store.get('example.com')).toBeUndefined();
    expect(store.get('evil.registry.example.com')).toBeUndefined();
    expect(store.get('registry.example.com:443')).toBeUndefined();
    expect(store.get('other.example.com')).toBeUndefined();
  });

  it('maps the names of Docker Hub to one host', () => {
    const store = credentialsFromDockerConfig({
      auths: { 'https://index.docker.io/v1/': { auth: b64('u:p') } },
    });
    expect(store.get('docker.io')).toEqual({ kind: 'basic', username: 'u', password: 'p' });
    expect(store.get('registry-1.docker.io')).toEqual({ kind: 'basic', username: 'u', password: 'p' });
  });

  it('collects every invalid entry', () => {
    let err: unknown;
    try {
      credentialsFromDockerConfig({
        auths: { a: 'x', b: { auth: b64('nocolon') }, c: { username: 'only' } },
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CredentialsError);
    expect((err as CredentialsError).errors).toEqual([
      'auths["a"]: must be an object',
      'auths["b"].auth: must be base64 of user:password',
      'auths["c"]: needs auth, username and password, or identitytoken',
    ]);
    expect(() => credentialsFromDockerConfig('{')).toThrow(CredentialsError);
    expect(() => credentialsFromDockerConfig({})).toThrow(CredentialsError);
  });
});
