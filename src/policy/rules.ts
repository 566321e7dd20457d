/**
 * Rules that span fields or that JSON Schema cannot say. Each CEL rule in
 * schema.ts has its counterpart here (same message), so that a policy file
 * checked by `modelgate policy lint` fails the same way `kubectl apply` would.
 * The extra checks (globs compile, regexps compile, keys parse) are ones CEL
 * cannot make; the CRD's `pattern`s on globs catch the character-level part of
 * them at apply time.
 */
import { createPublicKey } from 'node:crypto';
import { validateFileGlob, validateGlob, validateNamespaceGlob } from '../reference/glob.ts';
import {
  AUTHORITIES_REQUIRED_MESSAGE,
  type ModelPolicySpec,
  NOT_REQUIRED_EXTRAS_MESSAGE,
  SIGNATURES_ABSENT_MESSAGE,
} from './schema.ts';

export interface PolicyError {
  /** Field path, e.g. `spec.signatures.authorities[0].keyless`. */
  readonly path: string;
  readonly message: string;
}

export function crossFieldErrors(spec: ModelPolicySpec): PolicyError[] {
  const errors: PolicyError[] = [];
  const err = (path: string, message: string) => errors.push({ path: `spec${path}`, message });

  spec.models.forEach((g, i) => {
    const e = validateGlob(g);
    if (e !== undefined) err(`.models[${i}]`, e);
  });

  spec.match?.namespaces?.forEach((g, i) => {
    const e = validateNamespaceGlob(g);
    if (e !== undefined) err(`.match.namespaces[${i}]`, e);
  });

  const sel = spec.match?.namespaceSelector;
  sel?.matchExpressions?.forEach((e, i) => {
    const needsValues = e.operator === 'In' || e.operator === 'NotIn';
    if (needsValues !== (e.values !== undefined && e.values.length > 0)) {
      err(
        `.match.namespaceSelector.matchExpressions[${i}]`,
        'In and NotIn need values; Exists and DoesNotExist take none',
      );
    }
  });

  const sig = spec.signatures;
  const names = new Set<string>();
  // Saying nothing about signatures used to admit unsigned models silently: a policy must say which.
  if (sig === undefined) err('.signatures', SIGNATURES_ABSENT_MESSAGE);
  else if (sig.required !== false && sig.authorities === undefined) {
    err('.signatures.authorities', AUTHORITIES_REQUIRED_MESSAGE);
  } else if (sig.required === false) {
    if (sig.authorities !== undefined) err('.signatures.authorities', NOT_REQUIRED_EXTRAS_MESSAGE);
    if (sig.allowUnsignedFiles !== undefined)
      err('.signatures.allowUnsignedFiles', NOT_REQUIRED_EXTRAS_MESSAGE);
  }
  if (sig?.authorities) {
    if ((sig.threshold ?? 1) > sig.authorities.length) {
      err('.signatures', 'threshold must not exceed the number of authorities');
    }
    sig.authorities.forEach((a, i) => {
      const at = `.signatures.authorities[${i}]`;
      if (names.has(a.name)) err(`${at}.name`, 'authority names must be unique');
      names.add(a.name);
      if ((a.keyless === undefined) === (a.key === undefined)) err(at, 'set exactly one of keyless or key');
      if (a.keyless) {
        const k = a.keyless;
        if ((k.subject === undefined) === (k.subjectRegExp === undefined)) {
          err(`${at}.keyless`, 'set exactly one of subject or subjectRegExp');
        }
        if (k.subjectRegExp !== undefined) {
          try {
            new RegExp(k.subjectRegExp, 'u');
          } catch (e) {
            err(`${at}.keyless.subjectRegExp`, `not a valid regular expression: ${(e as Error).message}`);
          }
        }
        if (
          k.trustedRoot &&
          (k.trustedRoot.configMapRef === undefined) === (k.trustedRoot.file === undefined)
        ) {
          err(`${at}.keyless.trustedRoot`, 'set exactly one of configMapRef or file');
        }
        if (a.transparencyLog && !a.transparencyLog.required) {
          err(
            `${at}.transparencyLog.required`,
            'keyless authorities always require a transparency-log entry',
          );
        }
      }
      if (a.key) {
        if ((a.key.pem === undefined) === (a.key.secretRef === undefined)) {
          err(`${at}.key`, 'set exactly one of pem or secretRef');
        }
        const root = a.key.trustedRoot;
        if (root && (root.configMapRef === undefined) === (root.file === undefined)) {
          err(`${at}.key.trustedRoot`, 'set exactly one of configMapRef or file');
        }
        if (a.key.pem !== undefined) {
          const e = publicKeyError(a.key.pem);
          if (e) err(`${at}.key.pem`, e);
        }
      }
    });
  }
  sig?.allowUnsignedFiles?.forEach((g, i) => {
    const e = validateFileGlob(g);
    if (e !== undefined) err(`.signatures.allowUnsignedFiles[${i}]`, e);
  });

  const fmt = spec.formats;
  if (fmt?.allow && fmt.deny) {
    fmt.allow.forEach((f, i) => {
      if (fmt.deny?.includes(f)) err(`.formats.allow[${i}]`, 'a format cannot be both allowed and denied');
    });
  }

  const checkSignedBy = (field: 'mlbom' | 'provenance') => {
    spec[field]?.signedBy?.forEach((n, i) => {
      if (!names.has(n)) {
        err(
          `.${field}.signedBy[${i}]`,
          `${field}.signedBy must name authorities listed in signatures.authorities`,
        );
      }
    });
  };
  checkSignedBy('mlbom');
  checkSignedBy('provenance');
  return errors;
}

const SUPPORTED_KEYS = new Set(['ec', 'ed25519', 'rsa']);

function publicKeyError(pem: string): string | undefined {
  try {
    const key = createPublicKey(pem);
    if (!SUPPORTED_KEYS.has(key.asymmetricKeyType ?? '')) {
      return `unsupported key type ${key.asymmetricKeyType}: use ECDSA (P-256/384/521), Ed25519 or RSA`;
    }
    return undefined;
  } catch {
    return 'not a PEM public key (expected -----BEGIN PUBLIC KEY-----)';
  }
}
