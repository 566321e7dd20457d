import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateCa, generateSelfSignedCert, generateServingCert } from '../../../src/admission/tls.ts';

const DAY_MS = 86_400_000;

function days(cert: X509Certificate): number {
  return (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / DAY_MS;
}

describe('generateSelfSignedCert', () => {
  it('makes a P-256 serving certificate for localhost, 127.0.0.1 and ::1 by default, valid a year', () => {
    const { certPem, keyPem } = generateSelfSignedCert();
    const cert = new X509Certificate(certPem);
    expect(cert.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(cert.subject).toBe('CN=localhost');
    expect(cert.issuer).toBe(cert.subject);
    expect(cert.ca).toBe(false);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkIP('::1')).toBe('::1');
    expect(days(cert)).toBeCloseTo(365, 0);
    expect(Date.parse(cert.validFrom)).toBeLessThan(Date.now());
  });

  it('takes extra names, a common name and a validity', () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const cert = new X509Certificate(
      generateSelfSignedCert(['modelgate.svc', 'localhost'], ['10.1.2.3'], {
        commonName: 'mg',
        validDays: 30,
        now,
      }).certPem,
    );
    expect(cert.subjectAltName).toBe('DNS:modelgate.svc, DNS:localhost, IP Address:10.1.2.3');
    expect(cert.subject).toBe('CN=mg');
    expect(days(cert)).toBeCloseTo(30, 1);
    expect(new Date(cert.validTo).toISOString()).toBe('2030-01-31T00:00:00.000Z');
  });

  it('encodes a validity after 2049 as GeneralizedTime', () => {
    const cert = new X509Certificate(
      generateSelfSignedCert(['a'], [], { now: new Date('2060-06-01T00:00:00Z') }).certPem,
    );
    expect(new Date(cert.validTo).getUTCFullYear()).toBe(2061);
  });

  it('refuses to make a certificate for no name, or for an IP that is not one', () => {
    expect(() => generateSelfSignedCert([], [])).toThrow(/at least one DNS name or IP address/);
    expect(() => generateSelfSignedCert(['a'], ['localhost'])).toThrow(/not an IP address: "localhost"/);
  });

  it('gives each certificate its own key and serial number', () => {
    const a = new X509Certificate(generateSelfSignedCert().certPem);
    const b = new X509Certificate(generateSelfSignedCert().certPem);
    expect(a.serialNumber).not.toBe(b.serialNumber);
    expect(a.fingerprint256).not.toBe(b.fingerprint256);
    expect(a.serialNumber).toMatch(/^[4-7][0-9A-F]{31}$/);
  });
});

describe('generateCa and generateServingCert', () => {
  it('makes a CA that signs serving certificates', () => {
    const ca = generateCa({ commonName: 'modelgate-webhook-ca' });
    const caCert = new X509Certificate(ca.certPem);
    expect(caCert.ca).toBe(true);
    expect(caCert.subject).toBe('CN=modelgate-webhook-ca');
    expect(caCert.verify(caCert.publicKey)).toBe(true);
    expect(caCert.checkPrivateKey(createPrivateKey(ca.keyPem))).toBe(true);

    const leaf = generateServingCert(
      ca,
      ['modelgate.modelgate-system.svc', 'modelgate.modelgate-system'],
      ['127.0.0.1'],
    );
    const cert = new X509Certificate(leaf.certPem);
    expect(cert.ca).toBe(false);
    expect(cert.issuer).toBe('CN=modelgate-webhook-ca');
    expect(cert.subject).toBe('CN=modelgate.modelgate-system.svc');
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(leaf.keyPem))).toBe(true);
    expect(cert.checkHost('modelgate.modelgate-system.svc')).toBe('modelgate.modelgate-system.svc');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.toLegacyObject().ext_key_usage).toEqual(['1.3.6.1.5.5.7.3.1']);
  });

  it('names a leaf for its first IP when it has no DNS name', () => {
    const leaf = generateServingCert(generateCa(), [], ['10.96.0.10']);
    expect(new X509Certificate(leaf.certPem).subject).toBe('CN=10.96.0.10');
  });

  it('does not verify against another CA', () => {
    const leaf = new X509Certificate(generateServingCert(generateCa(), ['a'], []).certPem);
    const other = new X509Certificate(generateCa().certPem);
    expect(leaf.checkIssued(other)).toBe(false);
    expect(leaf.verify(other.publicKey)).toBe(false);
  });
});
