import { decodeReviewBody } from '../admission/decode.ts';
import { admissionResponse, invalidReviewDenial } from '../admission/review.ts';
import type { ModelVerifier } from '../engine/engine.ts';
import { EXIT, readStdin, UsageError } from './io.ts';
import { type EngineFlags, engineFromFlags, verifierFrom } from './setup.ts';

const MAX_INPUT = 64 * 1024 * 1024;

/**
 * `modelgate review < review.json`: the webhook's answer without a server.
 * 0 when a response was printed (allowed or not), 2 for unreadable input.
 */
export async function reviewCommand(flags: EngineFlags): Promise<number> {
  const registry = verifierFrom(flags);
  try {
    return await review(flags, registry.verifier);
  } finally {
    await registry.close();
  }
}

async function review(flags: EngineFlags, verifier: ModelVerifier): Promise<number> {
  const engine = engineFromFlags(flags, verifier);
  // The server's own decoder: the same nesting budget, JSON reading and envelope checks as `serve`.
  const decoded = decodeReviewBody(Buffer.from(await readStdin(MAX_INPUT), 'utf8'));
  if (decoded.kind === 'http-error')
    throw new UsageError(`stdin is not a JSON AdmissionReview: ${decoded.message}`);
  const parsed = decoded.parse;
  if (!parsed.ok) {
    if (parsed.uid === undefined) throw new UsageError(`not an AdmissionReview: ${parsed.error}`);
    process.stdout.write(
      `${JSON.stringify(admissionResponse(parsed.uid, invalidReviewDenial(parsed.error)))}\n`,
    );
    return EXIT.OK;
  }
  const decision = await engine.review(parsed.request);
  process.stdout.write(`${JSON.stringify(admissionResponse(parsed.request.uid, decision))}\n`);
  return EXIT.OK;
}
