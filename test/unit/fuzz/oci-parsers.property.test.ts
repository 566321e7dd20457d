// The registry answers parsers meet hostile registries: manifests, indexes, error bodies, auth headers,
// Link and Retry-After, docker configs. 10,000 cases each: none may throw (but the documented errors),
// and what they accept is well-formed.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CredentialsError, credentialsFromDockerConfig } from '../../../src/oci/credentials.ts';
import { parseDigest } from '../../../src/oci/digest.ts';
import { parseOciErrorBody } from '../../../src/oci/errors.ts';
import { parseLinkNext, parseRetryAfter, parseWwwAuthenticate } from '../../../src/oci/headers.ts';
import { parseIndex, parseManifest } from '../../../src/oci/manifest.ts';
import type { Descriptor } from '../../../src/oci/types.ts';
import { mutatedBytes, mutatedJson, utf8 } from './mutate.ts';

const RUNS = { numRuns: 10_000 };
const D = (c: string) => `sha256:${c.repeat(64)}`;

const MANIFEST = {
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  artifactType: 'application/vnd.cncf.model.manifest.v1+json',
  config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: D('4'), size: 2, data: 'e30=' },
  layers: [
    {
      mediaType: 'application/vnd.oci.image.layer.v1.tar',
      digest: D('a'),
      size: 2147483648,
      annotations: { 'org.opencontainers.image.title': 'model.safetensors' },
    },
    {
      mediaType: 'application/json',
      digest: D('b'),
      size: 17,
      annotations: { 'org.opencontainers.image.title': 'config.json' },
    },
  ],
  subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D('c'), size: 700 },
  annotations: { 'org.opencontainers.image.created': '2025-01-01T00:00:00Z' },
};

const INDEX = {
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.index.v1+json',
  manifests: [
    {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: D('d'),
      size: 900,
      artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      platform: { architecture: 'amd64', os: 'linux' },
    },
  ],
};

const CONTENT_TYPES = fc.constantFrom(
  undefined,
  null,
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json; charset=utf-8',
  'text/html',
  '',
);

function wellFormed(d: Descriptor): void {
  expect(typeof d.mediaType).toBe('string');
  expect(parseDigest(d.digest)).toBeDefined();
  expect(Number.isSafeInteger(d.size) && d.size >= 0).toBe(true);
}

function manifestInputs(base: unknown): fc.Arbitrary<Uint8Array> {
  const text = JSON.stringify(base);
  return fc.oneof(
    fc.uint8Array({ maxLength: 2048 }),
    fc.json({ maxDepth: 4 }).map(utf8),
    mutatedJson(base).map((v) => utf8(JSON.stringify(v) ?? 'null')),
    mutatedBytes(utf8(text)),
  );
}

describe('manifest and index parsers on hostile input', () => {
  it('parseManifest never throws and only accepts well-formed manifests and indexes', () => {
    fc.assert(
      fc.property(fc.oneof(manifestInputs(MANIFEST), manifestInputs(INDEX)), CONTENT_TYPES, (bytes, ct) => {
        const r = parseManifest(bytes, ct);
        if (!r.ok) {
          expect(r.errors.length).toBeGreaterThan(0);
          return;
        }
        expect(r.manifest.schemaVersion).toBe(2);
        if (r.kind === 'manifest') {
          const m = r.manifest as typeof r.manifest & { config: Descriptor; layers: Descriptor[] };
          wellFormed(m.config);
          for (const l of m.layers) wellFormed(l);
        } else {
          for (const d of (r.manifest as { manifests: Descriptor[] }).manifests) wellFormed(d);
        }
      }),
      RUNS,
    );
  });

  it('parseIndex never throws and only accepts well-formed indexes', () => {
    fc.assert(
      fc.property(manifestInputs(INDEX), CONTENT_TYPES, (bytes, ct) => {
        const r = parseIndex(bytes, ct);
        if ('errors' in r) return;
        for (const d of r.manifests) wellFormed(d);
      }),
      RUNS,
    );
  });

  it('parseOciErrorBody never throws', () => {
    const body = { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: {} }] };
    fc.assert(
      fc.property(manifestInputs(body), (bytes) => {
        const r = parseOciErrorBody(bytes);
        if (r !== undefined) expect(typeof r.code).toBe('string');
      }),
      RUNS,
    );
  });
});

describe('header parsers on hostile input', () => {
  const headerChars = fc.string({
    unit: fc.constantFrom(
      ...'Bearer realm="https://a/t",service=x,scope="repository:a:pull" ,;=\\\t<>'.split(''),
    ),
    maxLength: 300,
  });
  const header = fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.string({ unit: 'binary', maxLength: 200 }),
    headerChars,
  );

  it('parseWwwAuthenticate never throws', () => {
    fc.assert(
      fc.property(header, (h) => {
        const r = parseWwwAuthenticate(h);
        if (r.ok) for (const c of r.value) expect(typeof c.scheme).toBe('string');
      }),
      RUNS,
    );
  });

  it('parseLinkNext and parseRetryAfter never throw; a delay is a non-negative finite number', () => {
    fc.assert(
      fc.property(fc.oneof(header, fc.constant(null)), (h) => {
        parseLinkNext(h);
        const delay = parseRetryAfter(h);
        if (delay !== undefined) expect(Number.isFinite(delay) && delay >= 0).toBe(true);
      }),
      RUNS,
    );
  });
});

describe('docker config parser on hostile input', () => {
  const basic = Buffer.from('user:S3cr3t-Pw').toString('base64');
  const config = {
    auths: {
      'registry.example.com': { auth: basic },
      'https://index.docker.io/v1/': { username: 'u', password: 'S3cr3t-Pw' },
      'ghcr.io': { identitytoken: 'Refresh-T0ken' },
    },
  };
  const secrets = ['S3cr3t', basic.slice(0, 8), 'Refresh-T0ken'];
  // Text with the secrets in it, cut or damaged anywhere: the JSON parser's own message would quote it.
  const text = fc.oneof(
    mutatedJson(config).map((c) => JSON.stringify(c) ?? ''),
    mutatedBytes(utf8(JSON.stringify(config))).map((b) => Buffer.from(b).toString('utf8')),
  );
  it('reads a config or throws CredentialsError, never anything else; errors never echo a secret', () => {
    fc.assert(
      fc.property(fc.oneof(mutatedJson(config), text, fc.anything({ maxDepth: 3 }), fc.string()), (c) => {
        try {
          credentialsFromDockerConfig(c);
        } catch (err) {
          expect(err).toBeInstanceOf(CredentialsError);
          for (const s of secrets) expect((err as Error).message).not.toContain(s);
        }
      }),
      RUNS,
    );
  });
});
