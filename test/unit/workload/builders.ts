/** Typed builders for admitted objects: a pod template wrapped in each pod-bearing kind. */

import type { GroupVersionKind, PodTemplate } from '../../../src/workload/podspecs.ts';

export type JsonObject = { [key: string]: unknown };

export interface Container {
  name?: string;
  image?: unknown;
  command?: unknown;
  args?: unknown;
  env?: unknown;
}

export interface TemplateParts {
  annotations?: unknown;
  spec?: unknown;
}

/** A pod (template) object: `{metadata: {annotations}, spec}`, leaving out what is not given. */
export function podTemplate(parts: TemplateParts = {}): JsonObject {
  const template: JsonObject = {};
  if (parts.annotations !== undefined) template['metadata'] = { annotations: parts.annotations };
  if (parts.spec !== undefined) template['spec'] = parts.spec;
  return template;
}

export function container(fields: Container = {}): JsonObject {
  return { name: 'main', image: 'registry.example.com/app/server:1.0', ...fields };
}

export interface KindCase {
  readonly name: string;
  readonly gvk: GroupVersionKind;
  readonly subResource?: string;
  /** Expected PodTemplate.path. */
  readonly path: string;
  /** Expected PodTemplate.specPath. */
  readonly specPath: string;
  /** The admitted object carrying this pod template. */
  readonly wrap: (template: JsonObject) => JsonObject;
}

const meta = (name: string) => ({ name, namespace: 'ml' });

const inSpecTemplate =
  (apiVersion: string, kind: string) =>
  (template: JsonObject): JsonObject => ({
    apiVersion,
    kind,
    metadata: meta(kind.toLowerCase()),
    spec: { replicas: 1, template },
  });

export const KIND_CASES: readonly KindCase[] = [
  {
    name: 'Pod',
    gvk: { group: '', version: 'v1', kind: 'Pod' },
    path: '',
    specPath: 'spec',
    wrap: (template) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      ...template,
      metadata: { ...meta('pod'), ...(template['metadata'] as object) },
    }),
  },
  {
    name: 'Pod ephemeralcontainers',
    gvk: { group: '', version: 'v1', kind: 'Pod' },
    subResource: 'ephemeralcontainers',
    path: '',
    specPath: 'spec',
    wrap: (template) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      ...template,
      metadata: { ...meta('pod'), ...(template['metadata'] as object) },
    }),
  },
  {
    name: 'ReplicationController',
    gvk: { group: '', version: 'v1', kind: 'ReplicationController' },
    path: 'spec.template',
    specPath: 'spec.template.spec',
    wrap: inSpecTemplate('v1', 'ReplicationController'),
  },
  {
    name: 'Deployment',
    gvk: { group: 'apps', version: 'v1', kind: 'Deployment' },
    path: 'spec.template',
    specPath: 'spec.template.spec',
    wrap: inSpecTemplate('apps/v1', 'Deployment'),
  },
  {
    name: 'ReplicaSet',
    gvk: { group: 'apps', version: 'v1', kind: 'ReplicaSet' },
    path: 'spec.template',
    specPath: 'spec.template.spec',
    wrap: inSpecTemplate('apps/v1', 'ReplicaSet'),
  },
  {
    name: 'StatefulSet',
    gvk: { group: 'apps', version: 'v1', kind: 'StatefulSet' },
    path: 'spec.template',
    specPath: 'spec.template.spec',
    wrap: inSpecTemplate('apps/v1', 'StatefulSet'),
  },
  {
    name: 'DaemonSet',
    gvk: { group: 'apps', version: 'v1', kind: 'DaemonSet' },
    path: 'spec.template',
    specPath: 'spec.template.spec',
    wrap: inSpecTemplate('apps/v1', 'DaemonSet'),
  },
  {
    name: 'Job',
    gvk: { group: 'batch', version: 'v1', kind: 'Job' },
    path: 'spec.template',
    specPath: 'spec.template.spec',
    wrap: (template) => ({ apiVersion: 'batch/v1', kind: 'Job', metadata: meta('job'), spec: { template } }),
  },
  {
    name: 'CronJob',
    gvk: { group: 'batch', version: 'v1', kind: 'CronJob' },
    path: 'spec.jobTemplate.spec.template',
    specPath: 'spec.jobTemplate.spec.template.spec',
    wrap: (template) => ({
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: meta('cronjob'),
      spec: { schedule: '0 * * * *', jobTemplate: { spec: { template } } },
    }),
  },
];

/** A PodTemplate as podTemplatesOf returns it for a bare Pod, for extraction tests. */
export function podTemplateOf(parts: { annotations?: Record<string, string>; spec?: unknown }): PodTemplate {
  return { path: '', annotations: parts.annotations ?? {}, spec: parts.spec, specPath: 'spec' };
}
