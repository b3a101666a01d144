/**
 * What counts as a contract in a spec, in a module of its own: the validator warns about empty
 * ones, and workflow code (which must not load the validator) learns from it whether a spec has one.
 */

/** A contract that names something (a name, type or path), not an empty placeholder. */
export function isFilledContract(contract: Record<string, unknown>): boolean {
  return ['name', 'type', 'path'].some((k) => typeof contract[k] === 'string' && (contract[k] as string).trim() !== '');
}
