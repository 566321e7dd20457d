import type { ReferenceVerdict } from '../engine/engine.ts';
import { findingLine } from '../engine/message.ts';
import type { describeEvidence } from '../engine/registry-verifier.ts';
import { EXIT } from './io.ts';
import { type EngineFlags, engineFromFlags, verifierFrom } from './setup.ts';

/** `modelgate verify REF`: 0 allowed, 1 denied, 2 usage. */
export async function verifyCommand(
  reference: string,
  flags: EngineFlags & { namespace?: string; json?: boolean },
): Promise<number> {
  const registry = verifierFrom(flags);
  let verdict: ReferenceVerdict;
  try {
    verdict = await engineFromFlags(flags, registry.verifier).verifyReference(
      reference,
      flags.namespace ?? 'default',
    );
  } finally {
    await registry.close();
  }
  process.stdout.write(flags.json ? `${JSON.stringify(toJson(verdict), null, 2)}\n` : toText(verdict));
  return verdict.allowed ? EXIT.OK : EXIT.DENIED;
}

/** The --json shape: a contract (docs/cli.md). Keys are only ever added. */
export function toJson(v: ReferenceVerdict) {
  // What the registry resolved, from the first policy that got that far (all resolve the same artifact).
  const resolved = v.policies
    .map((p) => p.report as Partial<ReturnType<typeof describeEvidence>> | undefined)
    .find((r) => r?.digest);
  return {
    reference: v.reference,
    normalized: v.normalized ?? null,
    digest: resolved?.digest ?? null,
    mediaType: resolved?.mediaType ?? null,
    artifactType: resolved?.artifactType ?? null,
    allowed: v.allowed,
    layers: resolved?.layers ?? [],
    referrers: resolved?.referrers ?? [],
    reasons: v.findings.map((f) => ({
      code: f.code,
      message: f.message,
      policy: f.policy ?? null,
      mode: f.mode,
      fix: f.fix,
    })),
    policies: v.policies.map((p) => ({ name: p.name, mode: p.mode, report: p.report ?? null })),
  };
}

function toText(v: ReferenceVerdict): string {
  const json = toJson(v);
  const lines = [
    `${v.allowed ? 'ALLOWED' : 'DENIED'} ${v.normalized ?? v.reference}${json.digest ? ` (${json.digest})` : ''}`,
  ];
  for (const l of json.layers)
    lines.push(`  layer ${l.title ?? '(untitled)'} ${l.mediaType} ${l.size} bytes ${l.digest}`);
  for (const r of json.referrers) lines.push(`  referrer ${r.artifactType ?? r.mediaType} ${r.digest}`);
  if (v.policies.length > 0)
    lines.push(`policies: ${v.policies.map((p) => `${p.name} (${p.mode})`).join(', ')}`);
  for (const f of v.findings) lines.push(`  ${f.mode === 'Enforce' ? 'x' : '!'} ${findingLine(f)}`);
  return `${lines.join('\n')}\n`;
}
