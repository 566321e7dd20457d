/**
 * The webhook's `matchConditions`: one CEL expression with which the API server admits, without calling
 * modelgate, an object that cannot name a model. While no replica answers (failurePolicy Fail), only what
 * the expression sends is refused. Pure: src/kube/webhook-conditions.ts writes the result to the
 * ValidatingWebhookConfiguration; the chart carries the conservative form (every image) until it does.
 *
 * The expression must send every object from which the extractor (src/workload/extract.ts) would take a
 * reference, in the pod (template) of every handled kind. It may send more; it must never send less:
 * - the `modelgate.dev/models` annotation, present at all (any value);
 * - an image volume, whatever its reference;
 * - an `oci://` in any container's `command`, `args` or `env[].value`, in any letter case (the extractor's
 *   test is case-insensitive over ASCII, as RE2's `(?i)` is at least);
 * - a container image that a policy's model glob could cover, tested by one RE2 pattern (`imageTest`) that
 *   accepts every raw image string whose normalised repository (src/reference) matches a glob. Objects of
 *   a kind the expression does not know are sent whole.
 *
 * The image pattern works on the raw string, as the pod author wrote it, so it folds in what
 * parseReference does: leading whitespace (JS `trim()`; every such character is outside `!`..`~`), an
 * `oci://` prefix in any case, a host in any case, the Docker Hub aliases and the implicit
 * `docker.io/library/` of a name without a registry host. Each glob becomes a prefix test: the glob up to
 * its first `**`, with `*` and `?` kept as one-segment wildcards, followed by a point where a repository
 * segment can end. That covers every repository the glob matches and a few it does not (over-sending
 * is harmless). A glob starting with `**`, a Docker Hub glob with nothing after the host, or a pattern
 * grown past MAX_IMAGE_PATTERN_LENGTH (CEL bills a regexp by its length) send every image instead.
 */

import { GLOBSTAR_SEGMENT, matchWildcard, modelGlobSegments } from '../reference/glob.ts';
import { DOCKER_HUB, DOCKER_HUB_ALIASES } from '../reference/registry.ts';
import { MODELS_ANNOTATION } from '../workload/extract.ts';
import type { MatchCondition } from './api.ts';

export type { MatchCondition };

/** The name of modelgate's condition in each webhook; other conditions there are left as they are. */
export const MATCH_CONDITION_NAME = 'modelgate.dev/may-name-a-model';

/**
 * Longest image pattern written. CEL bills `matches` at (string length / 10) x (pattern length / 4) per
 * call against a budget of 2,500,000 per object: at 2,048 characters, a 100-character image costs about
 * 5,600, so a pod would need hundreds of containers to run out.
 */
export const MAX_IMAGE_PATTERN_LENGTH = 2048;

/** Where the chart keeps the expression for ALL_IMAGES (scripts/gen-match-condition.ts writes it). */
export const CHART_CONDITION_FILE = 'charts/modelgate/files/may-name-a-model.cel';

/** Which container images the condition sends to modelgate. */
export type ImageTest =
  /** Every image: before the policies are listed, or when the globs cannot be narrowed safely. */
  | { readonly kind: 'all'; readonly reason: string }
  /** None: no policy names a model glob, so no image can be a model. */
  | { readonly kind: 'none' }
  /** Images matching `pattern`, an RE2 (and JavaScript) pattern applied case-insensitively. */
  | { readonly kind: 'pattern'; readonly pattern: string; readonly globs: number; readonly coarse: boolean };

/** Every image: what the chart registers and what modelgate writes until it has listed the policies. */
export const ALL_IMAGES: ImageTest = Object.freeze({
  kind: 'all',
  reason: 'the ModelPolicies are not listed yet',
});

/** Kinds whose pod templates the expression reads, as `group/Kind`; any other kind is sent whole. */
export const HANDLED_KINDS: readonly string[] = Object.freeze([
  '/Pod',
  '/ReplicationController',
  'apps/Deployment',
  'apps/ReplicaSet',
  'apps/StatefulSet',
  'apps/DaemonSet',
  'batch/Job',
  'batch/CronJob',
]);

/** Where the expression looks for a pod (template): every place a handled kind keeps one. */
export const TEMPLATE_PATHS: readonly string[] = Object.freeze([
  '',
  'spec.template',
  'spec.jobTemplate.spec.template',
]);

/** Leading characters parseReference's trim() may drop: all of them lie outside printable ASCII. */
const LEADING = '[^!-~]*';
/** Where a repository segment may end in a raw image: a next segment, a tag, a digest, trailing space, the end. */
const SEGMENT_END = '(?:[/:@]|[^!-~]|$)';
/** A raw name without any '/' (a one-component Docker Hub name, then an optional tag or digest). */
const REST_WITHOUT_SLASH = '[^/]*$';
const DOCKER_HOSTS = `(?:${[DOCKER_HUB, ...[...DOCKER_HUB_ALIASES].sort()].map(literal).join('|')})`;

/**
 * The image test for a set of model globs (every glob of every policy, valid or not, in any namespace:
 * an invalid policy still makes the images it governs models). A pattern that is not a valid glob
 * governs nothing and is skipped, as the engine skips it.
 */
export function imageTest(globs: Iterable<string>): ImageTest {
  const distinct = new Map<string, readonly string[]>();
  for (const glob of globs) {
    const segments = modelGlobSegments(glob);
    if (segments !== undefined) distinct.set(segments.join('/'), segments);
  }
  const segmentLists = [...distinct.values()];
  if (segmentLists.length === 0) return { kind: 'none' };
  for (const coarse of [false, true]) {
    const direct = new Set<string>();
    const dockerHub = new Set<string>();
    for (const segments of segmentLists) {
      const alts = globAlternatives(coarse ? segments.slice(0, 1) : segments, coarse);
      if (typeof alts === 'string') return { kind: 'all', reason: alts };
      for (const a of alts.direct) direct.add(a);
      for (const a of alts.dockerHub) dockerHub.add(a);
    }
    const alternatives = [...direct].sort();
    // Docker Hub names share one optional host prefix, however many globs cover them.
    if (dockerHub.size > 0) alternatives.push(`(?:${DOCKER_HOSTS}/)?(?:${[...dockerHub].sort().join('|')})`);
    const pattern = `^${LEADING}(?:oci://)?(?:${alternatives.join('|')})`;
    if (pattern.length <= MAX_IMAGE_PATTERN_LENGTH) {
      return { kind: 'pattern', pattern, globs: segmentLists.length, coarse };
    }
  }
  return {
    kind: 'all',
    reason: `the model globs need an image pattern longer than ${MAX_IMAGE_PATTERN_LENGTH} characters, even by host alone`,
  };
}

/** Whether the image test sends `image` (JavaScript's reading of the pattern; the API server uses RE2). */
export function imageTestSends(test: ImageTest, image: string): boolean {
  if (test.kind === 'all') return true;
  if (test.kind === 'none') return false;
  return new RegExp(test.pattern, 'i').test(image);
}

/**
 * The raw-image alternatives for one glob's normalised segments (see the file comment): `direct` ones
 * start at the host, `dockerHub` ones after an optional Docker Hub host; or why every image must be sent. `hostOnly`: the segments were cut to the host, so a Docker Hub host sends all.
 */
function globAlternatives(
  segments: readonly string[],
  hostOnly: boolean,
): { direct: string[]; dockerHub: string[] } | string {
  const [host, ...rest] = segments;
  if (host === undefined || host === GLOBSTAR_SEGMENT) return 'a model glob starts with "**"';
  const star = rest.indexOf(GLOBSTAR_SEGMENT);
  // A `**` matches zero or more segments, so only what comes before it is a prefix of every match.
  const path = star === -1 ? rest : rest.slice(0, star);
  const pathPattern = path.map(segmentPattern);
  if (pathPattern.includes(undefined)) return 'a model glob has a character outside ASCII';
  const tail = path.length === 0 ? SEGMENT_END : `/${pathPattern.join('/')}${SEGMENT_END}`;
  const hostPattern = segmentPattern(host);
  if (hostPattern === undefined) return 'a model glob has a character outside ASCII';

  const direct: string[] = [];
  const dockerHub: string[] = [];
  if (host !== DOCKER_HUB) direct.push(`${hostPattern}${tail}`);
  if (host === DOCKER_HUB || matchWildcard(host, DOCKER_HUB)) {
    // Docker Hub is also named by its aliases and by no host at all, and then cannot be told from a
    // first path segment without the host rules of parseReference: a glob with no path left sends all.
    if (path.length === 0 || (path.length === 1 && path[0] === '*')) {
      return hostOnly
        ? 'a model glob covers Docker Hub and the image pattern had to be cut to hosts'
        : 'a model glob covers every Docker Hub repository';
    }
    // After the optional host: the path as normalised, or a one-component name that gains `library/`.
    dockerHub.push(`${pathPattern.join('/')}${SEGMENT_END}`);
    const single = oneComponentForm(path);
    if (single !== undefined) dockerHub.push(single);
  }
  return { direct, dockerHub };
}

/**
 * The raw form of a one-component Docker Hub name (`nginx`, `docker.io/nginx`), which parseReference
 * reads as `library/nginx`: possible when the glob's first path segment matches `library` and at most one
 * segment follows it before a `**` or the end.
 */
function oneComponentForm(path: readonly string[]): string | undefined {
  const [first, ...after] = path;
  if (first === undefined || !matchWildcard(first, 'library') || after.length > 1) return undefined;
  if (after[0] === undefined) return REST_WITHOUT_SLASH;
  const component = segmentPattern(after[0]);
  return component === undefined ? undefined : `${component}${SEGMENT_END}${REST_WITHOUT_SLASH}`;
}

/** One glob segment as a pattern: `*` any run without '/', `?` one character but '/', the rest literal. */
function segmentPattern(segment: string): string | undefined {
  let out = '';
  for (const char of segment) {
    if (char === '*') out += '[^/]*';
    else if (char === '?') out += '[^/]';
    else {
      const lit = literalChar(char);
      if (lit === undefined) return undefined;
      out += lit;
    }
  }
  return out;
}

function literal(text: string): string {
  return [...text].map((c) => literalChar(c) ?? '').join('');
}

/** A literal character in both RE2 and JavaScript syntax; undefined outside ASCII. */
function literalChar(char: string): string | undefined {
  const code = char.charCodeAt(0);
  if (char.length !== 1 || code > 0x7e || code < 0x20) return undefined;
  if (/[A-Za-z0-9_:-]/.test(char)) return char;
  if (char === '.') return '\\.';
  return `\\x${code.toString(16).padStart(2, '0')}`;
}

/** CEL: whether a string holds `oci://` in any letter case (the extractor's test, and more under RE2 folding). */
const OCI = "matches('(?i)oci://')";

/** The expression of MATCH_CONDITION_NAME for an image test. */
export function mayNameModelExpression(images: ImageTest): string {
  const containerTests = [
    ...(images.kind === 'all' ? ['has(c.image)'] : []),
    ...(images.kind === 'pattern' ? [`(has(c.image) && c.image.matches(r'(?i)${images.pattern}'))`] : []),
    `(has(c.command) && c.command.exists(s, s.${OCI}))`,
    `(has(c.args) && c.args.exists(s, s.${OCI}))`,
    `(has(c.env) && c.env.exists(e, has(e.value) && e.value.${OCI}))`,
  ];
  const [, template, cronJobTemplate] = TEMPLATE_PATHS.map((p) => p.split('.'));
  const hasPath = (base: string, keys: readonly string[]) =>
    keys.map((_, i) => `has(${[base, ...keys.slice(0, i + 1)].join('.')})`).join(' && ');
  const at = (base: string, keys: readonly string[]) => [base, ...keys].join('.');
  return [
    '// modelgate: send only what can name a model (src/kube/match-conditions.ts).',
    'object == null ||',
    `!((request.kind.group + '/' + request.kind.kind) in [${HANDLED_KINDS.map((k) => `'${k}'`).join(', ')}]) ||`,
    '([object] +',
    ` (${hasPath('object', template!)} ? [${at('object', template!)}] : []) +`,
    ` (${hasPath('object', cronJobTemplate!)} ? [${at('object', cronJobTemplate!)}] : [])`,
    ').exists(t,',
    ` (has(t.metadata) && has(t.metadata.annotations) && '${MODELS_ANNOTATION}' in t.metadata.annotations) ||`,
    ' (has(t.spec) && (',
    '  (has(t.spec.volumes) && t.spec.volumes.exists(v, has(v.image))) ||',
    '  [has(t.spec.initContainers) ? t.spec.initContainers : [],',
    '   has(t.spec.containers) ? t.spec.containers : [],',
    '   has(t.spec.ephemeralContainers) ? t.spec.ephemeralContainers : []].exists(l, l.exists(c,',
    `   ${containerTests.join(' ||\n   ')}`,
    '  ))',
    ' ))',
    ')',
  ].join('\n');
}

/** modelgate's condition for an image test. */
export function mayNameModelCondition(images: ImageTest): MatchCondition {
  return { name: MATCH_CONDITION_NAME, expression: mayNameModelExpression(images) };
}

/**
 * A webhook's conditions with modelgate's own set to `wanted`: replaced where it is, appended where it
 * is not; every other condition kept, in order.
 */
export function withCondition(
  current: readonly MatchCondition[] | undefined,
  wanted: MatchCondition,
): MatchCondition[] {
  const list = current ?? [];
  if (!list.some((c) => c.name === wanted.name)) return [...list, wanted];
  return list.map((c) => (c.name === wanted.name ? wanted : c));
}

/** Whether two condition lists are the same, names, expressions and order. */
export function sameConditions(
  a: readonly MatchCondition[] | undefined,
  b: readonly MatchCondition[] | undefined,
): boolean {
  const x = a ?? [];
  const y = b ?? [];
  return (
    x.length === y.length && x.every((c, i) => c.name === y[i]?.name && c.expression === y[i]?.expression)
  );
}

/** The model globs of ModelPolicy objects as listed (read defensively): `spec.models` strings. */
export function modelGlobsOf(policies: Iterable<unknown>): string[] {
  const globs: string[] = [];
  for (const p of policies) {
    const models = (p as { spec?: { models?: unknown } } | null)?.spec?.models;
    if (!Array.isArray(models)) continue;
    for (const g of models) if (typeof g === 'string') globs.push(g);
  }
  return globs;
}

/** For logs: what the image test sends. */
export function describeImageTest(test: ImageTest): string {
  if (test.kind === 'all') return `every image (${test.reason})`;
  if (test.kind === 'none') return 'no image (no policy names a model glob)';
  return `images matching ${test.globs} model glob(s)${test.coarse ? ', by host only' : ''}`;
}
