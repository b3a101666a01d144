/**
 * What a command gate may be called. Arbiter's own gates and the spec's acceptance gates own
 * their names, so no repository policy or submitter gate can pass itself off as one of them.
 */

/** The longest a gate's name may be: it names a checkout folder, so it bounds that folder's path. */
export const MAX_GATE_NAME_LENGTH = 64;

/** What a command gate's name may be: it names a checkout folder and a row of evidence. */
export const GATE_NAME_PATTERN = new RegExp(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,${MAX_GATE_NAME_LENGTH - 1}}$`);

/** Gates Arbiter always runs itself; no command gate may take these names. */
export const RESERVED_GATE_NAMES = ['budget', 'scope', 'spec', 'protected', 'tree'];

/** Acceptance criteria become gates named with this prefix, so submitter gates may not use it. */
export const ACCEPTANCE_GATE_PREFIX = 'acceptance-';

/** The gate that runs acceptance criterion `id`'s test command. */
export function acceptanceGateName(id: string): string {
  return `${ACCEPTANCE_GATE_PREFIX}${id}`.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, MAX_GATE_NAME_LENGTH);
}

/**
 * The command gate of each acceptance criterion with a `test_command`: run by a shell, confined.
 * The spec fixes both its name and its argv, so a verdict naming the spec must hold exactly these.
 */
export function acceptanceCommands(spec: {
  acceptance: ReadonlyArray<{ id: string; testCommand?: string }>;
}): Array<{ name: string; argv: string[] }> {
  return spec.acceptance.flatMap((a) =>
    a.testCommand ? [{ name: acceptanceGateName(a.id), argv: ['sh', '-c', a.testCommand] }] : [],
  );
}

/** Why a gate name (a submitter's or a policy's) cannot be used, or undefined. */
export function reservedGateNameProblem(name: string): string | undefined {
  if (RESERVED_GATE_NAMES.includes(name.toLowerCase())) return `gate name '${name}' is reserved for Arbiter's own gate`;
  if (name.toLowerCase().startsWith(ACCEPTANCE_GATE_PREFIX))
    return `gate name '${name}' is reserved: '${ACCEPTANCE_GATE_PREFIX}*' names the spec's acceptance criteria`;
  // Looked up by name in records of gates (a policy's modes): `constructor` read as Object's own.
  if (name in Object.prototype) return `gate name '${name}' is reserved: every object has a property of that name`;
  return undefined;
}

/** CAWS gate names (in policies and waivers) and the Arbiter gates they govern. */
const CAWS_GATE_NAMES: Record<string, string> = {
  budget_limit: 'budget',
  scope_boundary: 'scope',
  spec_completeness: 'spec',
};

/** The Arbiter gate a CAWS or Arbiter gate name governs (`budget_limit` is the budget). */
export function arbiterGateName(name: string): string {
  return Object.hasOwn(CAWS_GATE_NAMES, name) ? CAWS_GATE_NAMES[name] : name;
}
