import { API_GROUP, API_VERSION, KIND, ModelPolicySpecSchema } from './schema.ts';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Keywords a Kubernetes structural schema takes; everything else TypeBox emits is dropped. */
const KEPT = new Set([
  'type',
  'description',
  'properties',
  'required',
  'items',
  'minItems',
  'maxItems',
  'minLength',
  'maxLength',
  'pattern',
  'minimum',
  'maximum',
  'default',
  'enum',
  'additionalProperties',
  'x-kubernetes-validations',
]);

/** Converts a TypeBox JSON Schema into an openAPIV3Schema the API server accepts. */
export function toStructural(schema: unknown): Json {
  const s = schema as Record<string, unknown>;
  const anyOf = s.anyOf as Record<string, unknown>[] | undefined;
  if (Array.isArray(anyOf) && anyOf.every((a) => typeof a.const === 'string')) {
    const out: Record<string, Json> = { type: 'string', enum: anyOf.map((a) => a.const as string) };
    for (const k of ['description', 'default'] as const) if (s[k] !== undefined) out[k] = s[k] as Json;
    return out;
  }
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(s)) {
    if (!KEPT.has(k)) continue;
    if (k === 'additionalProperties' && v === false) continue; // the API server prunes unknown fields itself
    if (k === 'properties') {
      out.properties = Object.fromEntries(
        Object.entries(v as Record<string, unknown>).map(([p, ps]) => [p, toStructural(ps)]),
      );
    } else if (k === 'items') {
      out.items = toStructural(v);
    } else {
      out[k] = v as Json;
    }
  }
  // A defaulted field is filled in by the API server, so users need not write it.
  const props = s.properties as Record<string, { default?: unknown }> | undefined;
  if (Array.isArray(out.required) && props) {
    const required = (out.required as string[]).filter((r) => props[r]?.default === undefined);
    if (required.length > 0) out.required = required;
    else delete out.required;
  }
  // Type.Record(String, X) -> patternProperties; structural schemas say additionalProperties.
  const pp = s.patternProperties as Record<string, unknown> | undefined;
  if (pp) {
    const [only] = Object.values(pp);
    out.additionalProperties = toStructural(only);
  }
  return out;
}

const conditionSchema: Json = {
  type: 'object',
  required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
  properties: {
    type: { type: 'string', maxLength: 316 },
    status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
    observedGeneration: { type: 'integer', minimum: 0 },
    lastTransitionTime: { type: 'string', format: 'date-time' },
    reason: { type: 'string', maxLength: 1024 },
    message: { type: 'string', maxLength: 32768 },
  },
};

/** The ModelPolicy CustomResourceDefinition, generated from the one schema. */
export function modelPolicyCrd(): Json {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `modelpolicies.${API_GROUP}`,
      labels: { 'app.kubernetes.io/name': 'modelgate', 'app.kubernetes.io/part-of': 'modelgate' },
    },
    spec: {
      group: API_GROUP,
      scope: 'Cluster',
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: 'modelpolicies',
        singular: 'modelpolicy',
        shortNames: ['mp'],
        categories: ['modelgate'],
      },
      versions: [
        {
          name: API_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Mode', type: 'string', jsonPath: '.spec.mode' },
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description:
                'ModelPolicy says which ML model artifacts may run in the namespaces it matches: who must have signed them, which formats and evidence they need.',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: toStructural(ModelPolicySpecSchema),
                status: {
                  type: 'object',
                  properties: {
                    observedGeneration: { type: 'integer', minimum: 0 },
                    conditions: {
                      type: 'array',
                      maxItems: 16,
                      items: conditionSchema,
                      'x-kubernetes-list-type': 'map',
                      'x-kubernetes-list-map-keys': ['type'],
                    },
                  },
                },
              },
            },
          },
        },
      ],
    },
  };
}
