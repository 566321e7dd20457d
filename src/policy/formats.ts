// The formats rule of a policy, compiled: which detected formats are refused and which alone are admitted.
// The default fails closed: without `formats`, only formats positively identified as data are admitted.
import {
  DEFAULT_ALLOWED_FORMATS,
  DEFAULT_DENIED_FORMATS,
  MODEL_FORMATS,
  type ModelFormat,
  type ModelPolicySpec,
} from './schema.ts';

export interface FormatRules {
  /** Refused whatever `allowed` says. */
  readonly denied: ReadonlySet<ModelFormat>;
  /** When set, the only formats admitted. */
  readonly allowed?: ReadonlySet<ModelFormat>;
  /** How the rule came about, for messages: the default, an allow list, or a deny-only list. */
  readonly source: 'default' | 'allow' | 'deny';
}

// Formats whose files are pickles inside: a loader unpickles them (torch.load, torch.jit.load).
const PICKLE_FAMILY: readonly ModelFormat[] = ['pickle', 'pytorch-zip', 'torchscript'];

/**
 * `formats` absent (or `{}`): the default allow list. `allow` set: only those, minus `deny`. Only `deny`
 * set: every format but those, and never `unknown`: a deny list names what it refuses, it does not admit
 * what could not be identified (an allow list that names `unknown` does). Denying `pickle` also denies
 * the formats that are pickles inside.
 */
export function compileFormatRules(formats: ModelPolicySpec['formats']): FormatRules {
  const allow = formats?.allow;
  const deny = formats?.deny;
  if (allow === undefined && deny === undefined) {
    return {
      denied: new Set(DEFAULT_DENIED_FORMATS),
      allowed: new Set(DEFAULT_ALLOWED_FORMATS),
      source: 'default',
    };
  }
  const denied = new Set<ModelFormat>(deny ?? []);
  if (denied.has('pickle')) for (const f of PICKLE_FAMILY) denied.add(f);
  if (allow !== undefined) return { denied, allowed: new Set(allow), source: 'allow' };
  denied.add('unknown');
  return { denied, source: 'deny' };
}

/** Whether rules admit every format, so that no file needs classifying (only an allow list of all can). */
export function rulesAdmitEverything(r: {
  denied: ReadonlySet<ModelFormat>;
  allowed?: ReadonlySet<ModelFormat>;
}) {
  if (r.denied.size > 0) return false;
  return r.allowed === undefined || MODEL_FORMATS.every((f) => r.allowed?.has(f));
}
