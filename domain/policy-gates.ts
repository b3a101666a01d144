/**
 * The gates a repository's policy demands, checked against what a step is asked to run and what a
 * verdict is asked to sign. A workflow decides which gates run and how they count, and anyone who
 * may write to the namespace can run workflow code of their own: the policy's command with another
 * argv, or in `skip` mode, or never run at all, must not reach a signed verdict.
 */
import { ACCEPTANCE_GATE_PREFIX, acceptanceCommands, RESERVED_GATE_NAMES } from './gate-names';
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

/** What a run validated that fixes gates: its spec's acceptance criteria. */
export interface SpecGates {
  acceptance: ReadonlyArray<{ id: string; testCommand?: string }>;
}

/** Why `run`, an acceptance gate, is not one of `spec`'s as the spec words it, or undefined. */
function acceptanceProblem(spec: SpecGates, { gate: { name, argv } }: GateRun): string | undefined {
  const command = acceptanceCommands(spec).find((c) => c.name === name);
  if (!command) return `gate ${name} is not an acceptance criterion of the spec the run validated`;
  if (sameArgv(command.argv, argv)) return undefined;
  return `gate ${name} was to run ${JSON.stringify(argv)}; the spec's test command is ${JSON.stringify(command.argv)}`;
}

/**
 * Why `run` is not a gate the policy (and, for an acceptance gate, the validated spec) lets run
 * as asked, or undefined when it is. A spec is absent only for a run that validated none on a worker.
 */
export function gateRunProblem(policy: RepoPolicy, run: GateRun, spec?: SpecGates): string | undefined {
  const { name, argv } = run.gate;
  const named = nameProblem(run);
  if (named) return named;
  const mode = Object.hasOwn(policy.gateModes, name) ? policy.gateModes[name] : 'block';
  if (run.mode !== mode) return `gate ${name} was to run in mode ${run.mode}; the policy gives it ${mode}`;
  const command =
    policy.commands.find((c) => c.name === name) ??
    policy.commands.find((c) => c.name.toLowerCase() === name.toLowerCase());
  if (command && run.source !== 'policy')
    return `gate ${name} (${run.source}) has the name of the policy's command ${command.name}`;
  if (run.source === 'acceptance') return spec && acceptanceProblem(spec, run);
  if (run.source !== 'policy') return undefined;
  if (!command) return `gate ${name} is not a command of the policy`;
  if (command.name !== name || !sameArgv(command.argv, argv))
    return `gate ${name} was to run ${JSON.stringify(argv)}; the policy's command is ${JSON.stringify(command.argv)}`;
  return undefined;
}

/** A gate as a verdict states it. */
interface StatedGate {
  name: string;
  kind: string;
  source?: string;
  argv?: readonly string[];
}

/**
 * The gates every verdict must hold that `gates` (a verdict's) lack or misstate: Arbiter's own,
 * each of its own kind, each of the policy's commands and each of the spec's acceptance criteria
 * as a command gate, stating the command that fixes it.
 */
export function missingGates(policy: RepoPolicy, gates: readonly StatedGate[], spec?: SpecGates): string[] {
  const commands = new Map(gates.filter((g) => g.kind === 'command').map((g) => [g.name, g]));
  const arbiter = new Set(gates.filter((g) => g.kind === g.name).map((g) => g.name));
  const fixed = [
    ...policy.commands.map((c) => ({ ...c, source: 'policy', what: "the policy's command" })),
    ...(spec ? acceptanceCommands(spec) : []).map((c) => ({ ...c, source: 'acceptance', what: 'the acceptance test' })),
  ];
  return [
    ...RESERVED_GATE_NAMES.filter((name) => !arbiter.has(name)).map(
      (name) => `gate ${name}: Arbiter's own gate did not judge the change`,
    ),
    ...fixed.flatMap(({ name, argv, source, what }) => {
      const stated = commands.get(name);
      if (!stated) return [`gate ${name}: ${what} did not run`];
      if (stated.source !== source || !sameArgv(stated.argv ?? [], argv))
        return [
          `gate ${name}: stated as ${stated.source} ${JSON.stringify(stated.argv)}, ${what} is ${JSON.stringify(argv)}`,
        ];
      return [];
    }),
  ];
}
