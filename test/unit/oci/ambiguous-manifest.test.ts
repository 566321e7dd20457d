// An ambiguous manifest, served by a registry, reaches the decision as ARTIFACT_AMBIGUOUS: not as a
// registry outage (REGISTRY_ERROR, transient, retried and never cached), but as a refusal that belongs
// to the content.
import { afterEach, describe, expect, it } from 'vitest';
import { TRANSIENT_CODES } from '../../../src/engine/caching-verifier.ts';
import { registryFailure } from '../../../src/engine/registry-verifier.ts';
import { RegistryClient } from '../../../src/oci/client.ts';
import { digestOf } from '../../../src/oci/digest.ts';
import { RegistryError } from '../../../src/oci/errors.ts';
import { MediaType } from '../../../src/oci/types.ts';
import { type FakeServer, sendBytes, startFakeServer } from '../../support/fake-server.ts';

const D = (c: string) => `sha256:${c.repeat(64)}`;
const layer = (c: string) => `{"mediaType":"application/octet-stream","digest":"${D(c)}","size":1}`;
const config = `"config":{"mediaType":"${MediaType.OciEmpty}","digest":"${D('e')}","size":2}`;
// modelgate would judge `layers`; oras and containerd pull `Layers` (Go keeps the last, any case).
const AMBIGUOUS = Buffer.from(
  `{"schemaVersion":2,"mediaType":"${MediaType.OciManifest}",${config},"layers":[${layer('a')}],"Layers":[${layer('b')}]}`,
);

const servers: FakeServer[] = [];
const clients: RegistryClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('an ambiguous manifest from a registry', () => {
  it('is a RegistryError ARTIFACT_AMBIGUOUS, and the finding keeps the code', async () => {
    const s = await startFakeServer((_req, res) =>
      sendBytes(res, 200, AMBIGUOUS, {
        'content-type': MediaType.OciManifest,
        'docker-content-digest': digestOf(AMBIGUOUS),
      }),
    );
    servers.push(s);
    const client = new RegistryClient({ insecureRegistries: [s.host], retryBaseMs: 10 });
    clients.push(client);
    const err = await client
      .resolve(s.host, 'models/m', digestOf(AMBIGUOUS), AbortSignal.timeout(20_000))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).code).toBe('ARTIFACT_AMBIGUOUS');
    // Not retried: one request, the content will not change under its digest.
    expect(s.requests).toHaveLength(1);
    const finding = registryFailure(err, new AbortController().signal);
    expect(finding.code).toBe('ARTIFACT_AMBIGUOUS');
    // A refusal of content is cached like any other refusal; only outages are not.
    expect(TRANSIENT_CODES.has(finding.code)).toBe(false);
  });
});
