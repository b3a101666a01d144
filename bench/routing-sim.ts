/**
 * The routing benchmark's world: agents whose chance of passing depends on the task's type, risk
 * tier and size, each with its own cost, and the routers compared on it. Rewards are what
 * Arbiter learns from: a pass is worth 1 less the run's cost, a failure 0.
 */
import { contextualChoose, rankArms, sampleBeta, seededRandom, thompsonChoose, type ArmStats } from '../domain/bandit';
import { contextKey, type RoutingContext, type SizeClass } from '../domain/routing-context';

export const TASK_TYPES = ['feature', 'fix', 'refactor', 'docs'];
const TIERS = [1, 2, 3];
const SIZES: SizeClass[] = ['small', 'medium', 'large'];
export const AGENTS = 8;

/** One simulated world: each agent's pass rate per context and its cost (in reward). */
export interface World {
  pass(c: RoutingContext, agent: number): number;
  cost: number[];
  contexts: RoutingContext[];
}

/** Pass rates: a skill per task type, moved by each agent's own strengths per tier and size. */
export function world(rand: () => number, { contexts, costs }: { contexts: boolean; costs: boolean }): World {
  const skill = TASK_TYPES.map(() => Array.from({ length: AGENTS }, () => 0.15 + 0.75 * rand()));
  const effect = (n: number) =>
    Array.from({ length: n }, () => Array.from({ length: AGENTS }, () => 0.5 * (rand() - 0.5)));
  const [tierEffect, sizeEffect] = [effect(TIERS.length), effect(SIZES.length)];
  const cost = Array.from({ length: AGENTS }, () => (costs ? 0.35 * rand() : 0));
  const all = TASK_TYPES.flatMap((taskType) =>
    contexts
      ? TIERS.flatMap((riskTier) => SIZES.map((size) => ({ taskType, riskTier, size })))
      : [{ taskType, riskTier: 3, size: 'medium' as SizeClass }],
  );
  const pass = (c: RoutingContext, a: number) => {
    const base = skill[TASK_TYPES.indexOf(c.taskType)][a];
    if (!contexts) return base;
    const moved = base + tierEffect[TIERS.indexOf(c.riskTier)][a] + sizeEffect[SIZES.indexOf(c.size)][a];
    return Math.min(0.97, Math.max(0.03, moved));
  };
  return { pass, cost, contexts: all };
}

/** Evidence per agent, by task type and by context, as Arbiter keeps it. */
export class Evidence {
  private readonly byKey = new Map<string, ArmStats[]>();

  arms(key: string): ArmStats[] {
    let arms = this.byKey.get(key);
    if (!arms)
      this.byKey.set(
        key,
        (arms = Array.from({ length: AGENTS }, (_, i) => ({ agentId: `a${i}`, successes: 0, failures: 0 }))),
      );
    return arms;
  }

  add(c: RoutingContext, agent: number, reward: number): void {
    for (const key of [c.taskType, contextKey(c)]) {
      const arm = this.arms(key)[agent];
      arm.successes += reward;
      arm.failures += 1 - reward;
    }
  }
}

/** A router: given the task's context and the evidence, the N distinct agents it picks, best first. */
export type Router = (c: RoutingContext, e: Evidence, n: number, step: number, rand: () => number) => number[];

const index = (id: string) => Number(id.slice(1));

/** Arbiter: ranked by {@link rankArms} on the context backed by the task type, untried agents first. */
export const arbiterRouter: Router = (c, e, n, step) => {
  const type = e.arms(c.taskType);
  const ctx = e.arms(contextKey(c));
  const arms = type.map((t, i) => ({ agentId: t.agentId, type: t, context: ctx[i] }));
  if (n === 1) return [index(contextualChoose(arms, step * 7919 + 1).chosen)];
  return rankArms(arms, step * 7919 + 1)
    .slice(0, n)
    .map((s) => index(s.agentId));
};

/** The router before: Thompson sampling per task type, on the verdict alone (no cost, no context), top N draws. */
export function previousRouter(costBlind: Evidence): Router {
  return (c, _e, n, step) => {
    const arms = costBlind.arms(c.taskType);
    if (n === 1) return [index(thompsonChoose(arms, step * 7919 + 1).chosen)];
    const rand = seededRandom(step * 7919 + 1);
    return topN(
      arms.map((a) => sampleBeta(a.successes + 1, a.failures + 1, rand)),
      n,
    );
  };
}

function topN(score: number[], n: number): number[] {
  return score
    .map((s, i) => [s, i] as const)
    .sort((x, y) => y[0] - x[0] || x[1] - y[1])
    .slice(0, n)
    .map(([, i]) => i);
}

/** Epsilon-greedy per task type on the same rewards (epsilon 0.1 decaying ×0.995); `untried` is an unseen agent's mean. */
export function epsilonGreedy(untried: number): Router {
  return (c, e, n, step, rand) => {
    const arms = e.arms(c.taskType);
    const mean = (a: ArmStats) => (a.successes + a.failures === 0 ? untried : a.successes / (a.successes + a.failures));
    const explore = rand() < 0.1 * Math.pow(0.995, step);
    return topN(
      arms.map((a) => (explore ? rand() : mean(a) + 1e-9 * rand())),
      n,
    );
  };
}

/**
 * Expected value of running `agents` on a task in `c`: the arbiter keeps the best candidate, so
 * it is the expected best of their rewards (a pass is worth 1 less the agent's cost).
 */
export function expectedValue(w: World, c: RoutingContext, agents: number[]): number {
  let none = 1;
  let value = 0;
  for (const a of [...agents].sort((x, y) => w.cost[x] - w.cost[y])) {
    value += none * w.pass(c, a) * (1 - w.cost[a]);
    none *= 1 - w.pass(c, a);
  }
  return value;
}

/** The best `n` agents for `c`, by exhaustive search. */
export function bestValue(w: World, c: RoutingContext, n: number): number {
  let best = -Infinity;
  const pick = (from: number, chosen: number[]): void => {
    if (chosen.length === n) {
      best = Math.max(best, expectedValue(w, c, chosen));
      return;
    }
    for (let a = from; a < AGENTS; a++) pick(a + 1, [...chosen, a]);
  };
  pick(0, []);
  return best;
}

/** Cumulative regret of the router `makeRouter` builds over `tasks` tasks in one seeded world; `n` candidates per task. */
export function simulate(
  makeRouter: (costBlind: Evidence) => Router,
  setting: { contexts: boolean; costs: boolean; n: number; tasks: number },
  seed: number,
): number {
  const rand = seededRandom(seed);
  const w = world(seededRandom(seed ^ 0x9e3779b9), setting);
  const evidence = new Evidence();
  const blind = new Evidence();
  const route = makeRouter(blind);
  const best = new Map(w.contexts.map((c) => [contextKey(c), bestValue(w, c, setting.n)]));
  let regret = 0;
  for (let step = 0; step < setting.tasks; step++) {
    const c = w.contexts[Math.floor(rand() * w.contexts.length)];
    const agents = route(c, evidence, setting.n, step, rand);
    for (const a of agents) {
      const passed = rand() < w.pass(c, a);
      evidence.add(c, a, passed ? 1 - w.cost[a] : 0);
      blind.add(c, a, passed ? 1 : 0);
    }
    regret += (best.get(contextKey(c)) as number) - expectedValue(w, c, agents);
  }
  return regret;
}
