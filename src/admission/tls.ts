/**
 * X.509 material for the webhook's HTTPS endpoint: a self-signed serving certificate for a server started
 * without certificate files, and a CA plus a serving certificate signed by it for an install that hands the
 * CA to the API server (`caBundle`). ECDSA P-256 throughout; generated at run time, never at build time.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
} from 'node:crypto';
import { isIP } from 'node:net';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  GeneralName,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  id_kp_serverAuth,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
} from '@peculiar/asn1-x509';

/** A certificate and its private key, both PEM (key in PKCS#8). */
export interface CertifiedKeyPem {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface CertificateOptions {
  /** Subject common name. */
  readonly commonName?: string;
  /** Validity in days from `now`; default 365. */
  readonly validDays?: number;
  /** Start of validity (minus a few minutes for clock skew); default the current time. */
  readonly now?: Date;
}

/** The hosts a serving certificate is for when the caller names none besides its own. */
export const LOOPBACK_DNS_NAMES: readonly string[] = ['localhost'];
export const LOOPBACK_IPS: readonly string[] = ['127.0.0.1', '::1'];

const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const OID_COMMON_NAME = '2.5.4.3';
const DAY_MS = 86_400_000;
// Clock skew between this process and the API server must not make a fresh certificate "not yet valid".
const BACKDATE_MS = 5 * 60_000;

/** A CA certificate (CA:TRUE, pathlen 0, keyCertSign) for signing serving certificates. */
export function generateCa(opts: CertificateOptions = {}): CertifiedKeyPem {
  const { privateKey, publicKey } = newKeyPair();
  const name = distinguishedName(opts.commonName ?? 'modelgate-ca');
  const ski = keyIdentifier(publicKey);
  const der = buildCertificate({
    subject: name,
    issuer: name,
    publicKey,
    signer: privateKey,
    opts,
    extensions: [
      extension(id_ce_basicConstraints, new BasicConstraints({ cA: true, pathLenConstraint: 0 }), true),
      extension(id_ce_keyUsage, new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign), true),
      extension(id_ce_subjectKeyIdentifier, new SubjectKeyIdentifier(ski)),
    ],
  });
  return { certPem: toPem('CERTIFICATE', der), keyPem: exportKey(privateKey) };
}

/**
 * A serving certificate for `dnsNames` and `ips` signed by `ca` (as made by {@link generateCa}).
 * Throws when no name is given, or an IP address is not one.
 */
export function generateServingCert(
  ca: CertifiedKeyPem,
  dnsNames: readonly string[],
  ips: readonly string[],
  opts: CertificateOptions = {},
): CertifiedKeyPem {
  const caKey = createPrivateKey(ca.keyPem);
  const caCert = AsnConvert.parse(pemBody(ca.certPem), Certificate);
  const caSki = keyIdentifier(createPublicKey(caKey));
  const { privateKey, publicKey } = newKeyPair();
  const der = buildCertificate({
    subject: distinguishedName(opts.commonName ?? dnsNames[0] ?? ips[0] ?? 'modelgate'),
    issuer: caCert.tbsCertificate.subject,
    publicKey,
    signer: caKey,
    opts,
    extensions: [
      ...servingExtensions(dnsNames, ips, publicKey),
      extension(
        id_ce_authorityKeyIdentifier,
        new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(caSki) }),
      ),
    ],
  });
  return { certPem: toPem('CERTIFICATE', der), keyPem: exportKey(privateKey) };
}

/**
 * A self-signed serving certificate for `dnsNames` and `ips` (default: localhost, 127.0.0.1 and ::1).
 * A client trusts it by taking the certificate itself as its CA.
 */
export function generateSelfSignedCert(
  dnsNames: readonly string[] = LOOPBACK_DNS_NAMES,
  ips: readonly string[] = LOOPBACK_IPS,
  opts: CertificateOptions = {},
): CertifiedKeyPem {
  const { privateKey, publicKey } = newKeyPair();
  const name = distinguishedName(opts.commonName ?? dnsNames[0] ?? ips[0] ?? 'modelgate');
  const der = buildCertificate({
    subject: name,
    issuer: name,
    publicKey,
    signer: privateKey,
    opts,
    extensions: servingExtensions(dnsNames, ips, publicKey),
  });
  return { certPem: toPem('CERTIFICATE', der), keyPem: exportKey(privateKey) };
}

function servingExtensions(dnsNames: readonly string[], ips: readonly string[], publicKey: KeyObject) {
  if (dnsNames.length === 0 && ips.length === 0) {
    throw new Error('a serving certificate needs at least one DNS name or IP address');
  }
  for (const ip of ips) {
    if (isIP(ip) === 0) throw new Error(`not an IP address: ${JSON.stringify(ip)}`);
  }
  const names = [
    ...dnsNames.map((dNSName) => new GeneralName({ dNSName })),
    ...ips.map((iPAddress) => new GeneralName({ iPAddress })),
  ];
  return [
    extension(id_ce_basicConstraints, new BasicConstraints({ cA: false }), true),
    extension(id_ce_keyUsage, new KeyUsage(KeyUsageFlags.digitalSignature), true),
    extension(id_ce_extKeyUsage, new ExtendedKeyUsage([id_kp_serverAuth])),
    // Critical only when the subject is empty (RFC 5280 4.2.1.6); ours always carries a CN.
    extension(id_ce_subjectAltName, new SubjectAlternativeName(names)),
    extension(id_ce_subjectKeyIdentifier, new SubjectKeyIdentifier(keyIdentifier(publicKey))),
  ];
}

interface CertificateParts {
  subject: Name;
  issuer: Name;
  publicKey: KeyObject;
  signer: KeyObject;
  opts: CertificateOptions;
  extensions: Extension[];
}

function buildCertificate(parts: CertificateParts): Buffer {
  const now = parts.opts.now ?? new Date();
  const validDays = parts.opts.validDays ?? 365;
  const signatureAlgorithm = new AlgorithmIdentifier({ algorithm: OID_ECDSA_WITH_SHA256 });
  const tbs = new TBSCertificate({
    version: 2, // v3
    serialNumber: serialNumber(),
    signature: signatureAlgorithm,
    issuer: parts.issuer,
    validity: new Validity({
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter: new Date(now.getTime() + validDays * DAY_MS),
    }),
    subject: parts.subject,
    subjectPublicKeyInfo: AsnConvert.parse(
      parts.publicKey.export({ type: 'spki', format: 'der' }),
      SubjectPublicKeyInfo,
    ),
    extensions: new Extensions(parts.extensions),
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  // node:crypto signs ECDSA in DER (r, s) form, which is what X.509 carries.
  const signature = sign('sha256', tbsDer, parts.signer);
  const cert = new Certificate({
    tbsCertificate: tbs,
    signatureAlgorithm,
    signatureValue: toArrayBuffer(signature),
  });
  return Buffer.from(AsnConvert.serialize(cert));
}

function newKeyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

function distinguishedName(commonName: string): Name {
  return new Name([
    new RelativeDistinguishedName([
      new AttributeTypeAndValue({
        type: OID_COMMON_NAME,
        value: new AttributeValue({ utf8String: commonName }),
      }),
    ]),
  ]);
}

function extension(extnID: string, value: unknown, critical = false): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

/** RFC 5280 method 1: SHA-1 of the subjectPublicKey bit string. */
function keyIdentifier(key: KeyObject): ArrayBuffer {
  const spki = AsnConvert.parse(key.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo);
  return toArrayBuffer(createHash('sha1').update(new Uint8Array(spki.subjectPublicKey)).digest());
}

/** 16 random bytes, positive (high bit clear) and without a leading zero octet. */
function serialNumber(): ArrayBuffer {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return toArrayBuffer(bytes);
}

function exportKey(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

function toPem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function pemBody(pem: string): Buffer {
  const match = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem);
  if (!match?.[1]) throw new Error('no PEM certificate found');
  return Buffer.from(match[1].replace(/\s+/g, ''), 'base64');
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const copy = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(copy).set(bytes);
  return copy;
}
