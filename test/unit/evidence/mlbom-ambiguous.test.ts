// An ML-BOM that cyclonedx-go (encoding/json: any case, last duplicate) and modelgate would read
// differently is refused with ARTIFACT_AMBIGUOUS.
import { describe, expect, it } from 'vitest';
import { checkMlBom } from '../../../src/evidence/mlbom/index.ts';
import { bytes, safetensors } from './builders.ts';
import { hashOf, mlBom } from './mlbom-builders.ts';
import { artifact, attach, policy, signal, withReferrers } from './support.ts';

const CDX = 'application/vnd.cyclonedx+json';

function withBom(text: (digest: string) => string) {
  const e0 = artifact({ files: [{ name: 'model.safetensors', content: safetensors() }] });
  const d = attach(
    e0.reader,
    e0,
    [{ name: 'mlbom.json', content: bytes(text(e0.digest)), mediaType: CDX }],
    CDX,
  );
  return withReferrers(e0, [d]);
}

const required = policy({ mlbom: { required: true, requireHashMatch: true } });

describe('ML-BOM documents', () => {
  it('a BOM is accepted; the same BOM with a second, differently-cased component list is ARTIFACT_AMBIGUOUS', async () => {
    const good = (digest: string) => JSON.stringify(mlBom({ modelHashes: [hashOf(digest)] }));
    expect((await checkMlBom()(withBom(good), required, signal())).failures).toEqual([]);
    // modelgate would read `components` (the model, with its hash); cyclonedx-go reads `Components`.
    const twice = (digest: string) => good(digest).replace(/^\{/, '{"Components":[],');
    const r = await checkMlBom()(withBom(twice), required, signal());
    expect(r.failures.map((f) => f.code)).toEqual(['ARTIFACT_AMBIGUOUS']);
  });
});
