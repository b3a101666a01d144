/**
 * Cumulative regret of Arbiter's router (Thompson sampling per agent and task type) over 2,000
 * simulated tasks, against an oracle (always the best agent: zero regret) and an epsilon-greedy
 * baseline (epsilon 0.1, decaying by 0.995 per task). Prints the figures; asserts nothing.
 * Run: `npm run bench:routing`.
 */
import { hashSeed, seededRandom, thompsonChoose, type ArmStats } from '../domain/bandit';

const TASK_TYPES = ['feature', 'fix', 'refactor', 'docs'];
const AGENTS = 8;
const TASKS = Number(process.env.BENCH_TASKS ?? 2000);
const RUNS = Number(process.env.BENCH_RUNS ?? 20);

type Router = (type: string, stats: Map<string, ArmStats[]>, step: number, rand: () => number) => number;

/** Success probability of each agent per task type: each agent is good at some things. */
function population(rand: () => number): Record<string, number[]> {
  return Object.fromEntries(TASK_TYPES.map((t) => [t, Array.from({ length: AGENTS }, () => 0.15 + 0.75 * rand())]));
}

const thompson: Router = (type, stats, step) => {
  const arms = stats.get(type) as ArmStats[];
  const chosen = thompsonChoose(arms, hashSeed(`${type}/${step}`)).chosen;
  return arms.findIndex((a) => a.agentId === chosen);
};

/** Textbook epsilon-greedy: explore with probability epsilon, else the best observed mean (untried = 0), ties at random. */
const epsilonGreedy: Router = (type, stats, step, rand) => {
  const arms = stats.get(type) as ArmStats[];
  const epsilon = 0.1 * Math.pow(0.995, step);
  if (rand() < epsilon) return Math.floor(rand() * arms.length);
  const mean = (a: ArmStats) => (a.successes + a.failures === 0 ? 0 : a.successes / (a.successes + a.failures));
  const top = Math.max(...arms.map(mean));
  const ties = arms.map((a, i) => [a, i] as const).filter(([a]) => mean(a) === top);
  return ties[Math.floor(rand() * ties.length)][1];
};

/** The same with optimistic start (untried = 1): tries every agent once first. Printed for honesty. */
const optimisticEpsilonGreedy: Router = (type, stats, step, rand) => {
  const arms = stats.get(type) as ArmStats[];
  if (rand() < 0.1 * Math.pow(0.995, step)) return Math.floor(rand() * arms.length);
  const mean = (a: ArmStats) => (a.successes + a.failures === 0 ? 1 : a.successes / (a.successes + a.failures));
  return arms.reduce((best, a, i) => (mean(a) > mean(arms[best]) ? i : best), 0);
};

function simulate(router: Router, seed: number): number {
  const rand = seededRandom(seed);
  const p = population(seededRandom(seed ^ 0x9e3779b9));
  const stats = new Map(
    TASK_TYPES.map((t) => [
      t,
      Array.from({ length: AGENTS }, (_, i) => ({ agentId: `agent-${i}`, successes: 0, failures: 0 })),
    ]),
  );
  let regret = 0;
  for (let step = 0; step < TASKS; step++) {
    const type = TASK_TYPES[Math.floor(rand() * TASK_TYPES.length)];
    const i = router(type, stats, step, rand);
    const success = rand() < p[type][i];
    const arm = (stats.get(type) as ArmStats[])[i];
    if (success) arm.successes += 1;
    else arm.failures += 1;
    regret += Math.max(...p[type]) - p[type][i];
  }
  return regret;
}

function summary(values: number[]): string {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
  return `${mean.toFixed(1)} ± ${sd.toFixed(1)}`;
}

function latency(agents: number): string {
  const arms = Array.from({ length: agents }, (_, i) => ({
    agentId: `agent-${String(i).padStart(4, '0')}`,
    successes: i % 17,
    failures: i % 5,
  }));
  const runs = 200;
  const t = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) thompsonChoose(arms, i);
  return `${(Number(process.hrtime.bigint() - t) / 1e6 / runs).toFixed(2)} ms`;
}

const seeds = Array.from({ length: RUNS }, (_, i) => 1000 + i);
console.log(
  `cumulative regret over ${TASKS} tasks (${AGENTS} agents, ${TASK_TYPES.length} task types, mean ± sd of ${RUNS} runs)`,
);
console.log(`  oracle:                        0.0`);
console.log(`  Arbiter (Thompson sampling):   ${summary(seeds.map((s) => simulate(thompson, s)))}`);
console.log(`  epsilon-greedy (0.1, x0.995):  ${summary(seeds.map((s) => simulate(epsilonGreedy, s)))}`);
console.log(`  same, optimistic start:        ${summary(seeds.map((s) => simulate(optimisticEpsilonGreedy, s)))}`);
console.log(`bandit draw over 1,000 candidate agents: ${latency(1000)} per decision (sampling only)`);
