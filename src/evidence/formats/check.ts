import type { CheckFailure } from '../../engine/engine.ts';
import { admitsEveryFormat, type CompiledPolicy } from '../../policy/compile.ts';
import { printable } from '../bytes.ts';
import type { ArtifactEvidence, CheckResult, EvidenceCheck } from '../types.ts';
import { type ClassifyOptions, classifyArtifact } from './classify.ts';
import type { FileFormat } from './types.ts';

export interface FormatCheckOptions {
  /** Bytes read at most per artifact (default 8 MiB). */
  readonly budgetBytes?: number;
  readonly concurrency?: number;
}

/** A format check with its own read budget. */
export function formatCheck(opts: FormatCheckOptions = {}): EvidenceCheck {
  return async (e: ArtifactEvidence, policy: CompiledPolicy, signal: AbortSignal): Promise<CheckResult> => {
    // A policy that admits every format needs no byte of the model: classify by claims only.
    const sniff = !admitsEveryFormat(policy);
    const classifyOpts: ClassifyOptions = {
      sniff,
      ...(opts.budgetBytes === undefined ? {} : { budgetBytes: opts.budgetBytes }),
      ...(opts.concurrency === undefined ? {} : { concurrency: opts.concurrency }),
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
        denied: [...policy.deniedFormats],
        ...(policy.allowedFormats ? { allowed: [...policy.allowedFormats] } : {}),
        files: result.files,
        otherFiles: result.others,
      },
    };
  };
}

/** Classifies every weight file and refuses denied (or not allowed, or uninspectable) formats. */
export const checkFormats: EvidenceCheck = formatCheck();

/** The format failures of one file under a policy (which does not admit every format). */
export function judgeFile(f: FileFormat, policy: CompiledPolicy): CheckFailure[] {
  const what = describe(f);
  if (!f.inspected) {
    // Content that cannot be read could be any format, including one the policy denies.
    return [
      {
        code: 'FORMAT_DENIED',
        message: `${what}: format could not be determined (${f.evidence}); the policy denies some formats, so a file that cannot be inspected is refused`,
      },
    ];
  }
  if (policy.deniedFormats.has(f.format)) {
    return [{ code: 'FORMAT_DENIED', message: `${what} is ${detected(f)}; the policy denies ${f.format}` }];
  }
  if (policy.allowedFormats && !policy.allowedFormats.has(f.format)) {
    const allowed = [...policy.allowedFormats].join(', ');
    return [
      {
        code: 'FORMAT_DENIED',
        message: `${what} is ${detected(f)}; the policy allows only ${allowed}`,
      },
    ];
  }
  return [];
}

function describe(f: FileFormat): string {
  return `file ${printable(f.file, 160)} (layer ${f.layerDigest.slice(0, 19)}…)`;
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
