// A private Sigstore for keyless tests, from the @sigstore/mock building blocks: a Fulcio-like CA that
// embeds SCTs from a CT log, a Rekor-like transparency log (signed entry timestamps and checkpointed
// inclusion proofs), and the trusted_root.json that names them. Bundles are assembled the way
// sigstore-js assembles them after talking to the real services.
import { createHash, generateKeyPairSync, type KeyObject, sign as nodeSign } from 'node:crypto';
import { initializeCA, initializeCTLog, initializeTLog } from '@sigstore/mock';
import { pae } from './builders.ts';

export const OIDC_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';

export interface Identity {
  readonly issuer: string;
  readonly subject: string;
}

export interface KeylessOptions {
  /** Sign without a transparency-log entry. */
  readonly noTlog?: boolean;
  /** When the certificate is issued (it is valid 10 minutes); default: a minute after the Sigstore was made. */
  readonly certTime?: Date;
  /** When the log integrates the entry; default: one minute after the certificate. */
  readonly logTime?: Date;
  /** Drop the SCT (issue the certificate without the CT log). */
  readonly noSct?: boolean;
}

export interface TestSigstore {
  /** The default signing time: certificates are issued then, log entries a minute later. */
  readonly t0: Date;
  /** trusted_root.json (protobuf-specs JSON) for this CA, CT log and transparency log. */
  readonly trustedRoot: string;
  /** A keyless DSSE bundle (v0.3) over `payload`. */
  dsse(
    identity: Identity,
    payload: Uint8Array,
    opts?: KeylessOptions & { payloadType?: string },
  ): Promise<Record<string, unknown>>;
  /** A keyless message-signature bundle over `content` (its sha256 is the message digest). */
  message(identity: Identity, content: Uint8Array, opts?: KeylessOptions): Promise<Record<string, unknown>>;
  /** A DSSE bundle signed with `key` (as `cosign sign --key` with a private Rekor), logged in this tlog. */
  keyDsse(
    key: { privateKey: KeyObject; publicKey: KeyObject },
    payload: Uint8Array,
    opts?: Pick<KeylessOptions, 'logTime'>,
  ): Promise<Record<string, unknown>>;
}

export async function testSigstore(name = 'test'): Promise<TestSigstore> {
  // The mock CA's root certificate is valid from the moment it is made: sign a minute later.
  const T0 = new Date(Math.floor(Date.now() / 1000) * 1000 + 60_000);
  const caKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ctKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const tlogKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ctlog = await initializeCTLog(ctKeys, T0);
  const tlogUrl = `https://rekor.${name}.example`;
  const rootCa = await initializeCA(caKeys, ctlog, T0);
  const tlogPublic = tlogKeys.publicKey.export({ format: 'der', type: 'spki' });
  const start = '2020-01-01T00:00:00Z';
  const trustedRoot = JSON.stringify({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [
      {
        baseUrl: tlogUrl,
        hashAlgorithm: 'SHA2_256',
        publicKey: {
          rawBytes: tlogPublic.toString('base64'),
          keyDetails: 'PKIX_ECDSA_P256_SHA_256',
          validFor: { start },
        },
        logId: { keyId: createHash('sha256').update(tlogPublic).digest('base64') },
      },
    ],
    certificateAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
        uri: `https://fulcio.${name}.example`,
        certChain: {
          certificates: [{ rawBytes: Buffer.from(rootCa.rootCertificate.buffer).toString('base64') }],
        },
        validFor: { start },
      },
    ],
    ctlogs: [
      {
        baseUrl: `https://ctfe.${name}.example`,
        hashAlgorithm: 'SHA2_256',
        publicKey: {
          rawBytes: ctlog.publicKey.toString('base64'),
          keyDetails: 'PKIX_ECDSA_P256_SHA_256',
          validFor: { start },
        },
        logId: { keyId: Buffer.from(ctlog.logID.buffer).toString('base64') },
      },
    ],
    timestampAuthorities: [],
  });

  const issue = async (identity: Identity, leaf: KeyObject, opts: KeylessOptions) => {
    const certTime = opts.certTime ?? T0;
    // Another CA object on the same key (so the same issuer) when the clock or the CT log differ.
    const ca =
      opts.noSct || opts.certTime
        ? await initializeCA(caKeys, opts.noSct ? undefined : ctlog, certTime)
        : rootCa;
    return Buffer.from(
      (
        await ca.issueCertificate({
          publicKey: leaf.export({ format: 'der', type: 'spki' }),
          subjectAltName: identity.subject,
          extensions: [{ oid: OIDC_ISSUER_V2, value: identity.issuer }],
        })
      ).buffer,
    );
  };

  const logEntry = async (opts: KeylessOptions, proposed: Record<string, unknown>, kind: string) => {
    const logTime = opts.logTime ?? new Date((opts.certTime ?? T0).getTime() + 60_000);
    const tlog = await initializeTLog(tlogUrl, tlogKeys, logTime);
    const answer = await tlog.log(proposed);
    const e = Object.values(answer)[0] as {
      body: string;
      integratedTime: number;
      logID: string;
      logIndex: number;
      verification: {
        signedEntryTimestamp: string;
        inclusionProof: {
          logIndex: number;
          treeSize: number;
          rootHash: string;
          hashes: string[];
          checkpoint: string;
        };
      };
    };
    const p = e.verification.inclusionProof;
    return {
      logIndex: String(e.logIndex),
      logId: { keyId: Buffer.from(e.logID, 'hex').toString('base64') },
      kindVersion: { kind, version: '0.0.1' },
      integratedTime: String(e.integratedTime),
      inclusionPromise: { signedEntryTimestamp: e.verification.signedEntryTimestamp },
      inclusionProof: {
        logIndex: String(p.logIndex),
        rootHash: Buffer.from(p.rootHash, 'hex').toString('base64'),
        treeSize: String(p.treeSize),
        hashes: p.hashes,
        checkpoint: { envelope: p.checkpoint },
      },
      canonicalizedBody: e.body,
    };
  };

  const pemOf = (der: Buffer) =>
    `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;

  return {
    t0: T0,
    trustedRoot,
    async dsse(identity, payload, opts = {}) {
      const payloadType = opts.payloadType ?? 'application/vnd.in-toto+json';
      const leaf = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const cert = await issue(identity, leaf.publicKey, opts);
      const sig = nodeSign('sha256', pae(payloadType, payload), leaf.privateKey);
      const envelope = {
        payload: Buffer.from(payload).toString('base64'),
        payloadType,
        signatures: [{ sig: sig.toString('base64') }],
      };
      const tlogEntries = opts.noTlog
        ? []
        : [
            await logEntry(
              opts,
              {
                apiVersion: '0.0.1',
                kind: 'dsse',
                spec: {
                  envelopeHash: {
                    algorithm: 'sha256',
                    value: createHash('sha256').update(JSON.stringify(envelope)).digest('hex'),
                  },
                  payloadHash: {
                    algorithm: 'sha256',
                    value: createHash('sha256').update(payload).digest('hex'),
                  },
                  signatures: [
                    {
                      signature: sig.toString('base64'),
                      verifier: Buffer.from(pemOf(cert)).toString('base64'),
                    },
                  ],
                },
              },
              'dsse',
            ),
          ];
      return {
        mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
        verificationMaterial: { certificate: { rawBytes: cert.toString('base64') }, tlogEntries },
        dsseEnvelope: envelope,
      };
    },
    async keyDsse(key, payload, opts = {}) {
      const payloadType = 'application/vnd.in-toto+json';
      const sig = nodeSign('sha256', pae(payloadType, payload), key.privateKey);
      const envelope = {
        payload: Buffer.from(payload).toString('base64'),
        payloadType,
        signatures: [{ sig: sig.toString('base64') }],
      };
      const spki = key.publicKey.export({ format: 'der', type: 'spki' });
      const pem = key.publicKey.export({ format: 'pem', type: 'spki' }).toString();
      const entry = await logEntry(
        opts,
        {
          apiVersion: '0.0.1',
          kind: 'dsse',
          spec: {
            envelopeHash: {
              algorithm: 'sha256',
              value: createHash('sha256').update(JSON.stringify(envelope)).digest('hex'),
            },
            payloadHash: { algorithm: 'sha256', value: createHash('sha256').update(payload).digest('hex') },
            signatures: [
              { signature: sig.toString('base64'), verifier: Buffer.from(pem).toString('base64') },
            ],
          },
        },
        'dsse',
      );
      return {
        mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
        verificationMaterial: {
          publicKey: { hint: createHash('sha256').update(spki).digest('base64') },
          tlogEntries: [entry],
        },
        dsseEnvelope: envelope,
      };
    },
    async message(identity, content, opts = {}) {
      const leaf = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const cert = await issue(identity, leaf.publicKey, opts);
      const digest = createHash('sha256').update(content).digest();
      const sig = nodeSign('sha256', content, leaf.privateKey);
      const tlogEntries = opts.noTlog
        ? []
        : [
            await logEntry(
              opts,
              {
                apiVersion: '0.0.1',
                kind: 'hashedrekord',
                spec: {
                  data: { hash: { algorithm: 'sha256', value: digest.toString('hex') } },
                  signature: {
                    content: sig.toString('base64'),
                    publicKey: { content: Buffer.from(pemOf(cert)).toString('base64') },
                  },
                },
              },
              'hashedrekord',
            ),
          ];
      return {
        mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
        verificationMaterial: { certificate: { rawBytes: cert.toString('base64') }, tlogEntries },
        messageSignature: {
          messageDigest: { algorithm: 'SHA2_256', digest: digest.toString('base64') },
          signature: sig.toString('base64'),
        },
      };
    },
  };
}
