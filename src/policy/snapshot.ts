/**
 * The policies in force at one moment, as the engine and its index read them: the compiled ones, and
 * the invalid ones, which are never applied but still refuse the references they name.
 */
import type { CompiledPolicy } from './compile.ts';
import type { PolicyError } from './validate.ts';

/** A policy that failed validation. It is never applied, but the references it names are refused. */
export interface InvalidPolicy {
  readonly name: string;
  readonly errors: readonly PolicyError[];
  /** Its model globs, when those at least compiled. */
  governs?(repository: string): boolean;
}

export interface PolicySnapshot {
  readonly policies: readonly CompiledPolicy[];
  readonly invalid: readonly InvalidPolicy[];
}
