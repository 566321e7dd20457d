/** Namespace labels, kept from the namespace informer, for ModelPolicy `match.namespaceSelector`. */

export interface NamespaceObject {
  metadata?: { name?: string; labels?: Record<string, string> | null };
}

export class NamespaceLabels {
  readonly #labels = new Map<string, Readonly<Record<string, string>>>();

  upsert(ns: NamespaceObject): void {
    const name = ns.metadata?.name;
    if (typeof name !== 'string' || name === '') return;
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(ns.metadata?.labels ?? {})) if (typeof v === 'string') labels[k] = v;
    // The API server sets this label on every namespace; set it here too for namespaces written before it did.
    labels['kubernetes.io/metadata.name'] ??= name;
    this.#labels.set(name, Object.freeze(labels));
  }

  remove(ns: NamespaceObject): void {
    const name = ns.metadata?.name;
    if (typeof name === 'string') this.#labels.delete(name);
  }

  /** The labels of a namespace, or undefined when it is unknown (a selector then applies: fail closed). */
  labels(name: string): Readonly<Record<string, string>> | undefined {
    return this.#labels.get(name);
  }

  get size(): number {
    return this.#labels.size;
  }
}
