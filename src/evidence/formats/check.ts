import { admitsEveryFormat, type CompiledPolicy } from '../../policy/compile.ts';
import type { CheckFailure } from '../../verdict/outcome.ts';
import { printable } from '../bytes.ts';
import type { ArtifactEvidence, CheckResult, EvidenceCheck } from '../types.ts';
import { type ClassifyOptions, classifyArtifact } from './classify.ts';
import type { FileFormat } from './types.ts';

export interface FormatCheckOptions {
  /** Bytes read at most per artifact (default 64 MiB). */
  readonly budgetBytes?: number;
  readonly concurrency?: number;
  /** Blobs up to this size are fetched whole and digest-checked before they are classified (default 16 MiB). */
  readonly verifiedBlobBytes?: number;
}

/** What the registry is still trusted with when a file is read by Range (stated in `verify --json`). */
const RANGE_TRUST =
  'files with verified=false were larger than verifiedBlobBytes and read by HTTP Range: range answers are not digest-checked, so their classification trusts the registry to serve the same bytes to a range request as to the full download';

/** A format check with its own read budget. */
export function formatCheck(opts: FormatCheckOptions = {}): EvidenceCheck {
  return async (e: ArtifactEvidence, policy: CompiledPolicy, signal: AbortSignal): Promise<CheckResult> => {
    // A policy that admits every format needs no byte of the model: classify by claims only.
    const sniff = !admitsEveryFormat(policy);
    const classifyOpts: ClassifyOptions = {
      sniff,
      ...(opts.budgetBytes === undefined ? {} : { budgetBytes: opts.budgetBytes }),
      ...(opts.concurrency === undefined ? {} : { concurrency: opts.concurrency }),
      ...(opts.verifiedBlobBytes === undefined ? {} : { verifiedBlobBytes: opts.verifiedBlobBytes }),
    };
    const result = await classifyArtifact(e, classifyOpts, signal);
    const failures = sniff ? result.files.flatMap((f) => judgeFile(f, policy)) : [];
    return {
      failures,
      report: {
        contentRead: sniff,
        bytesRead: result.bytesRead,
        requests: result.requests,
        budgetBytes: result.budgetBytes,
        verifiedBlobBytes: result.verifiedBlobBytes,
        ...(result.files.some((f) => !f.verified && f.inspected) ? { rangeTrust: RANGE_TRUST } : {}),
        rule: policy.formatRuleSource ?? (policy.allowedFormats ? 'allow' : 'deny'),
        denied: [...policy.deniedFormats],
        ...(policy.allowedFormats ? { allowed: [...policy.allowedFormats] } : {}),
        files: result.files,
        otherFiles: result.others,
      },
    };
  };
}

/** Classifies every file (all layers, all archive members) and refuses denied, not allowed, or uninspectable formats. */
export const checkFormats: EvidenceCheck = formatCheck();

/** The format failures of one file under a policy (which does not admit every format). */
export function judgeFile(f: FileFormat, policy: CompiledPolicy): CheckFailure[] {
  const what = describe(f);
  if (f.ambiguous !== undefined) {
    return [
      {
        code: 'ARTIFACT_AMBIGUOUS',
        message: `${what}: two readers would see different files in it (${printable(f.ambiguous, 200)}), so it is refused`,
      },
    ];
  }
  if (!f.inspected) {
    // Content that cannot be read could be any format, including one the policy refuses.
    const kind =
      f.format === 'unknown'
        ? 'format could not be determined'
        : `${f.format} whose contents could not be inspected`;
    return [
      {
        code: 'FORMAT_DENIED',
        message: `${what}: ${kind} (${f.evidence}); a file that cannot be inspected is refused`,
      },
    ];
  }
  if (policy.deniedFormats.has(f.format) || (policy.allowedFormats && !policy.allowedFormats.has(f.format))) {
    return [{ code: 'FORMAT_DENIED', message: `${what} is ${detected(f)}; ${rule(f, policy)}` }];
  }
  return [];
}

function rule(f: FileFormat, policy: CompiledPolicy): string {
  const allowed = policy.allowedFormats ? [...policy.allowedFormats].join(', ') : '';
  switch (policy.formatRuleSource) {
    case 'default':
      return `the default formats rule admits only ${allowed} (formats is not set; formats.allow widens it)`;
    case 'deny':
      return f.format === 'unknown' && !(policy.spec.formats?.deny ?? []).includes('unknown')
        ? 'a deny-only formats rule still refuses unknown files (list unknown in formats.allow to admit them)'
        : `the policy denies ${f.format}`;
    default:
      return policy.deniedFormats.has(f.format)
        ? `the policy denies ${f.format}`
        : `the policy allows only ${allowed}`;
  }
}

function describe(f: FileFormat): string {
  return `file ${printable(f.file, 200)} (layer ${f.layerDigest.slice(0, 19)}…)`;
}

function detected(f: FileFormat): string {
  const how =
    f.decidedBy === 'content'
      ? 'by its content'
      : f.decidedBy === 'mediaType'
        ? 'by its media type'
        : 'by its name';
  const claim = f.contradicts ? ` although its ${f.contradicts}` : '';
  return `${f.format} (detected ${how}: ${f.evidence}${claim})`;
}
