/**
 * The gates a repository's policy demands, checked against what a step is asked to run and what a
 * verdict is asked to sign. A workflow decides which gates run and how they count, and anyone who
 * may write to the namespace can run workflow code of their own: the policy's command with another
 * argv, or in `skip` mode, or never run at all, must not reach a signed verdict.
 */
import { ACCEPTANCE_GATE_PREFIX, RESERVED_GATE_NAMES } from './gate-names';
import type { GateMode, RepoPolicy } from './repo-policy';

/** What a `runGate` is asked to run. */
export interface GateRun {
  gate: { name: string; argv: readonly string[] };
  source: 'policy' | 'acceptance' | 'submitter';
  mode: GateMode;
}

const sameArgv = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Why `run` is named as no command gate may be: Arbiter's own gates, and `acceptance-*` but for the spec's. */
function nameProblem({ gate: { name }, source }: GateRun): string | undefined {
  const lower = name.toLowerCase();
  if (RESERVED_GATE_NAMES.includes(lower)) return `gate ${name} (${source}) has the name of Arbiter's own gate`;
  if ((source === 'acceptance') === lower.startsWith(ACCEPTANCE_GATE_PREFIX)) return undefined;
  return `gate ${name} (${source}): only the spec's acceptance gates are named ${ACCEPTANCE_GATE_PREFIX}*`;
}

/** Why `run` is not a gate the policy lets run as asked, or undefined when it is. */
export function gateRunProblem(policy: RepoPolicy, run: GateRun): string | undefined {
  const { name, argv } = run.gate;
  const named = nameProblem(run);
  if (named) return named;
  const mode = Object.hasOwn(policy.gateModes, name) ? policy.gateModes[name] : 'block';
  if (run.mode !== mode) return `gate ${name} was to run in mode ${run.mode}; the policy gives it ${mode}`;
  const command =
    policy.commands.find((c) => c.name === name) ??
    policy.commands.find((c) => c.name.toLowerCase() === name.toLowerCase());
  if (run.source !== 'policy')
    return command ? `gate ${name} (${run.source}) has the name of the policy's command ${command.name}` : undefined;
  if (!command) return `gate ${name} is not a command of the policy`;
  if (command.name !== name || !sameArgv(command.argv, argv))
    return `gate ${name} was to run ${JSON.stringify(argv)}; the policy's command is ${JSON.stringify(command.argv)}`;
  return undefined;
}

/**
 * The gates every verdict must hold that `gates` (a verdict's) lack: Arbiter's own, each of its
 * own kind, and each of the policy's commands as a command gate.
 */
export function missingGates(policy: RepoPolicy, gates: ReadonlyArray<{ name: string; kind: string }>): string[] {
  const commands = new Set(gates.filter((g) => g.kind === 'command').map((g) => g.name));
  const arbiter = new Set(gates.filter((g) => g.kind === g.name).map((g) => g.name));
  return [
    ...RESERVED_GATE_NAMES.filter((name) => !arbiter.has(name)).map(
      (name) => `gate ${name}: Arbiter's own gate did not judge the change`,
    ),
    ...policy.commands
      .filter((c) => !commands.has(c.name))
      .map((c) => `gate ${c.name}: the policy's command did not run`),
  ];
}
