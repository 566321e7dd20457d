/**
 * OCI references to model artifacts: parsing, normalisation and canonical formatting, following the
 * distribution/reference grammar (`name[:tag][@digest]`) with the Docker Hub defaults that container
 * runtimes apply, so that a policy sees the same registry and repository that the runtime will pull.
 *
 * Pure code. Every check runs on a string of at most MAX_REFERENCE_LENGTH characters, splits on fixed
 * separators first and only then applies small anchored regular expressions with no ambiguous nesting, so
 * hostile input costs linear time.
 */
import { DOCKER_HUB, looksLikeRegistryHost, parseRegistryHost, quote } from './registry.ts';

export interface ModelReference {
  /** Lower-case `host[:port]`; 'docker.io' when the reference names none. */
  readonly registry: string;
  /** '/'-separated path components, lower-case as OCI requires; 'library/x' for a one-component Docker Hub name. */
  readonly repository: string;
  readonly tag?: string;
  /** 'sha256:<64 lower hex>' or 'sha512:<128 lower hex>'. */
  readonly digest?: string;
}

export type ReferenceParse =
  | { readonly ok: true; readonly ref: ModelReference }
  | { readonly ok: false; readonly error: string };

/** Longer input is refused before any other work: references come from pod authors. */
export const MAX_REFERENCE_LENGTH = 1024;
/** distribution/reference's limit on `registry/repository` (checked on the normalised name, as it does). */
export const MAX_NAME_LENGTH = 255;

const OCI_SCHEME = /^oci:\/\//i;
const ANY_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;
const IMAGE_ID = /^[a-f0-9]{64}$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const UPPER_CASE = /[A-Z]/;
const TAG = /^\w[\w.-]{0,127}$/;
const HEX = /^[0-9a-fA-F]*$/;
const LOWER_HEX = /^[0-9a-f]*$/;
const DIGEST_HEX_LENGTH: ReadonlyMap<string, number> = new Map([
  ['sha256', 64],
  ['sha512', 128],
]);

/** Parses and normalises a model reference. Never throws: any input yields a result. */
export function parseReference(input: string): ReferenceParse {
  if (typeof input !== 'string') return fail('reference must be a string');
  if (input.length > MAX_REFERENCE_LENGTH) {
    return fail(`reference is longer than ${MAX_REFERENCE_LENGTH} characters`);
  }
  let text = input.trim();
  if (OCI_SCHEME.test(text)) text = text.slice('oci://'.length);
  if (ANY_SCHEME.test(text)) {
    return fail(`reference ${quote(input.trim())} has an unsupported scheme: write REF or oci://REF`);
  }
  if (text === '') return fail('reference is empty');
  if (IMAGE_ID.test(text)) {
    return fail(
      `reference ${quote(text)} is a bare 64-character hex id: name a repository, e.g. host/path@sha256:<hex>`,
    );
  }

  // Split on the fixed separators first: '@' starts the digest, the first ':' after the last '/' starts the
  // tag (a ':' before it belongs to the host's port), and the first '/' ends a possible host.
  const at = text.indexOf('@');
  const digest = at === -1 ? undefined : text.slice(at + 1);
  let name = at === -1 ? text : text.slice(0, at);
  const colon = name.indexOf(':', name.lastIndexOf('/') + 1);
  const tag = colon === -1 ? undefined : name.slice(colon + 1);
  if (colon !== -1) name = name.slice(0, colon);
  if (name === '') return fail(`reference ${quote(text)} names no repository`);

  let registry = DOCKER_HUB;
  let path = name;
  const slash = name.indexOf('/');
  if (slash !== -1 && looksLikeRegistryHost(name.slice(0, slash))) {
    const host = parseRegistryHost(name.slice(0, slash));
    if (!host.ok) return fail(host.error);
    registry = host.registry;
    path = name.slice(slash + 1);
  }
  const pathError = checkPath(path, slash !== -1 && path === name);
  if (pathError !== undefined) return fail(pathError);
  const repository = registry === DOCKER_HUB && !path.includes('/') ? `library/${path}` : path;
  if (registry.length + 1 + repository.length > MAX_NAME_LENGTH) {
    return fail(
      `repository name ${quote(`${registry}/${repository}`)} is longer than ${MAX_NAME_LENGTH} characters`,
    );
  }

  if (tag !== undefined) {
    const tagError = checkTag(tag);
    if (tagError !== undefined) return fail(tagError);
  }
  if (digest !== undefined) {
    const digestError = checkDigest(digest);
    if (digestError !== undefined) return fail(digestError);
  }

  // Both tag and digest are kept: the digest decides what is pulled, the tag is what a person reads.
  const ref: ModelReference = {
    registry,
    repository,
    ...(tag !== undefined && { tag }),
    ...(digest !== undefined && { digest }),
  };
  return { ok: true, ref: Object.freeze(ref) };
}

/** The canonical form `registry/repository[:tag][@digest]`, which parseReference maps back to the same value. */
export function formatReference(ref: ModelReference): string {
  const tag = ref.tag === undefined ? '' : `:${ref.tag}`;
  const digest = ref.digest === undefined ? '' : `@${ref.digest}`;
  return `${repositoryOf(ref)}${tag}${digest}`;
}

/** `registry/repository`: the string that policy model globs match. */
export function repositoryOf(ref: ModelReference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** True when the reference names its content by digest, so that what is verified is what is pulled. */
export function isPinned(ref: ModelReference): boolean {
  return ref.digest !== undefined;
}

function checkPath(path: string, firstMayBeHost: boolean): string | undefined {
  if (path === '') return `reference names a registry but no repository`;
  if (UPPER_CASE.test(path)) {
    // distribution/reference would take an upper-case first component for a host; refusing it instead
    // avoids guessing, and says how to write a host.
    const hint = firstMayBeHost ? ` (a registry host needs a "." or a ":port", or must be localhost)` : '';
    return `repository ${quote(path)} must be lower-case${hint}`;
  }
  for (const component of path.split('/')) {
    if (component === '') return `repository ${quote(path)} has an empty path component`;
    if (!PATH_COMPONENT.test(component)) {
      return (
        `repository component ${quote(component)} is invalid: use a-z and 0-9, separated by ".", "_", "__" ` +
        `or "-", starting and ending with a letter or digit`
      );
    }
  }
  return undefined;
}

function checkTag(tag: string): string | undefined {
  if (tag === '') return 'tag is empty after ":"';
  if (tag.length > 128) return `tag ${quote(tag)} is longer than 128 characters`;
  if (!TAG.test(tag)) {
    return `tag ${quote(tag)} is invalid: use A-Z, a-z, 0-9, "_", "." and "-", not starting with "." or "-"`;
  }
  return undefined;
}

function checkDigest(digest: string): string | undefined {
  if (digest === '') return 'digest is empty after "@"';
  const colon = digest.indexOf(':');
  if (colon === -1) return `digest ${quote(digest)} must be algorithm:hex, e.g. sha256:<64 lower-case hex>`;
  const algorithm = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  const length = DIGEST_HEX_LENGTH.get(algorithm);
  if (length === undefined) {
    return `digest algorithm ${quote(algorithm)} is not supported: use sha256 or sha512`;
  }
  if (hex.length === length && HEX.test(hex) && !LOWER_HEX.test(hex)) {
    return `digest ${quote(digest)} must use lower-case hex`;
  }
  if (hex.length !== length || !LOWER_HEX.test(hex)) {
    return `digest ${quote(digest)} must be ${length} lower-case hex characters`;
  }
  return undefined;
}

function fail(error: string): ReferenceParse {
  return { ok: false, error };
}
