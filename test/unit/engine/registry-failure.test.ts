// What each kind of failure during verification is reported as: a registry's failure is REGISTRY_ERROR
// (with the client's fix), a property of the content is its own stable code, and an error nobody
// expected is modelgate's (INTERNAL_ERROR), never "check that the registry is reachable".
import { describe, expect, it } from 'vitest';
import { registryFailure } from '../../../src/engine/registry-verifier.ts';
import { UnsupportedArtifactError } from '../../../src/evidence/errors.ts';
import { RegistryError } from '../../../src/oci/errors.ts';

const live = () => new AbortController().signal;

describe('registryFailure', () => {
  it('maps each failure to its code', () => {
    expect(registryFailure(new RegistryError('REGISTRY_ERROR', 'down', { fix: 'f' }), live())).toEqual({
      code: 'REGISTRY_ERROR',
      message: 'down',
      fix: 'f',
    });
    expect(registryFailure(new UnsupportedArtifactError('index nests an index'), live())).toEqual({
      code: 'ARTIFACT_UNSUPPORTED',
      message: 'index nests an index',
    });
    expect(registryFailure(new TypeError('x is undefined'), live()).code).toBe('INTERNAL_ERROR');
    expect(registryFailure(new TypeError('x is undefined'), live(), 'formats')).toMatchObject({
      code: 'INTERNAL_ERROR',
      message: 'formats check failed: x is undefined',
    });
  });

  it('says DEADLINE_EXCEEDED once the deadline passed, whatever was thrown', () => {
    const c = new AbortController();
    c.abort();
    expect(registryFailure(new TypeError('late'), c.signal).code).toBe('DEADLINE_EXCEEDED');
  });
});
