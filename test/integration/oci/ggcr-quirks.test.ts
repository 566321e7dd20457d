// go-containerregistry's registry as the peer it is: a Warning header on responses, and referrer
// descriptors whose artifactType comes from the config media type.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../../src/oci/client.ts';
import { credentialsFromDockerConfig } from '../../../src/oci/credentials.ts';
import { MediaType } from '../../../src/oci/types.ts';
import { Oras, type Pushed } from '../../support/oras.ts';
import { startGgcrRegistry, type TestRegistry } from '../../support/registries.ts';

const CYCLONEDX = 'application/vnd.cyclonedx+json';
const signal = () => AbortSignal.timeout(30_000);

describe('ggcr registry quirks', () => {
  let reg: TestRegistry;
  let oras: Oras;
  let client: RegistryClient;
  let model: Pushed;
  let mlbom: Pushed;

  beforeAll(async () => {
    // Every response carries the Warning header here, not 1% of them.
    reg = await startGgcrRegistry({ auth: 'basic', warningProbability: 1 });
    oras = new Oras({ host: reg.host, credentials: reg.credentials });
    model = await oras.push('models/q:v1', [{ name: 'w.bin', content: 'weights' }], {
      artifactType: 'application/vnd.example.model',
    });
    mlbom = await oras.attach(
      `models/q@${model.digest}`,
      [{ name: 'bom.json', content: '{}', mediaType: CYCLONEDX }],
      {
        artifactType: CYCLONEDX,
      },
    );
    const dockerConfig = {
      auths: {
        [`http://${reg.host}`]: {
          auth: Buffer.from(`${reg.credentials!.username}:${reg.credentials!.password}`).toString('base64'),
        },
      },
    };
    client = new RegistryClient({
      insecureRegistries: [reg.host],
      credentials: credentialsFromDockerConfig(JSON.stringify(dockerConfig)),
    });
  });

  afterAll(async () => {
    await client?.close();
    await oras?.close();
    await reg?.stop();
  });

  it('answers with a Warning header and an artifactType taken from the empty config', async () => {
    const auth = `Basic ${Buffer.from(`${reg.credentials!.username}:${reg.credentials!.password}`).toString('base64')}`;
    const res = await fetch(`${reg.url}/v2/models/q/referrers/${model.digest}`, {
      headers: { authorization: auth },
    });
    expect(res.headers.get('warning')).toMatch(/^299 - "/);
    expect(res.headers.get('oci-filters-applied')).toBeNull();
    const body = (await res.json()) as { manifests: { digest: string; artifactType?: string }[] };
    expect(body.manifests).toEqual([
      expect.objectContaining({ digest: mlbom.digest, artifactType: MediaType.OciEmpty }),
    ]);
  });

  it("reports the referrer's real artifactType and filters on it", async () => {
    const all = await client.referrers(reg.host, 'models/q', model.digest, {}, signal());
    expect(all.map((d) => [d.digest, d.artifactType])).toEqual([[mlbom.digest, CYCLONEDX]]);
    const boms = await client.referrers(
      reg.host,
      'models/q',
      model.digest,
      { artifactType: CYCLONEDX },
      signal(),
    );
    expect(boms.map((d) => d.digest)).toEqual([mlbom.digest]);
    const none = await client.referrers(
      reg.host,
      'models/q',
      model.digest,
      { artifactType: MediaType.OciEmpty },
      signal(),
    );
    expect(none).toEqual([]);
  });

  it('resolves with credentials read from a .dockerconfigjson', async () => {
    const r = await client.resolve(reg.host, 'models/q', 'v1', signal());
    expect(r.digest).toBe(model.digest);
  });
});
