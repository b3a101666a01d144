/**
 * Cumulative regret of Arbiter's router against an oracle (zero regret) and baselines, over 2,000
 * simulated tasks (mean ± sd over 20 seeded worlds), in four settings: task types only (the
 * benchmark as first specified), with costs, with costs and contexts (type × tier × size), and
 * with costs and contexts when each task asks for three candidates. Prints the figures; asserts
 * nothing. Run: `npm run bench:routing`.
 */
import { contextualChoose } from '../domain/bandit';
import { AGENTS, arbiterRouter, epsilonGreedy, previousRouter, simulate, TASK_TYPES, type Router } from './routing-sim';

const TASKS = Number(process.env.BENCH_TASKS ?? 2000);
const RUNS = Number(process.env.BENCH_RUNS ?? 20);

const ROUTERS: Array<[string, (blind: Parameters<typeof previousRouter>[0]) => Router]> = [
  ['Arbiter (contextual, cost-aware Thompson, untried first)', () => arbiterRouter],
  ['the router before (Thompson per task type, verdict only)', previousRouter],
  ['epsilon-greedy (0.1, ×0.995), per task type', () => epsilonGreedy(0)],
  ['epsilon-greedy, optimistic start (tries every agent once)', () => epsilonGreedy(1)],
];

const SETTINGS = [
  { name: 'task types only', contexts: false, costs: false, n: 1 },
  { name: 'with costs', contexts: false, costs: true, n: 1 },
  { name: 'with costs and contexts', contexts: true, costs: true, n: 1 },
  { name: 'with costs and contexts, best of 3', contexts: true, costs: true, n: 3 },
];

function summary(values: number[]): string {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
  return `${mean.toFixed(1)} ± ${sd.toFixed(1)}`;
}

function latency(agents: number): string {
  const arms = Array.from({ length: agents }, (_, i) => ({
    agentId: `agent-${String(i).padStart(4, '0')}`,
    type: { successes: i % 17, failures: i % 5 },
    context: { successes: i % 3, failures: i % 2 },
  }));
  const runs = 200;
  const t = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) contextualChoose(arms, i);
  return `${(Number(process.hrtime.bigint() - t) / 1e6 / runs).toFixed(2)} ms`;
}

const SEED_BASE = Number(process.env.BENCH_SEED_BASE ?? 1000);
const seeds = Array.from({ length: RUNS }, (_, i) => SEED_BASE + i);
console.log(
  `cumulative regret over ${TASKS} tasks (${AGENTS} agents, ${TASK_TYPES.length} task types, mean ± sd of ${RUNS} worlds)`,
);
console.log(`| router | ${SETTINGS.map((s) => s.name).join(' | ')} |`);
console.log(`|---|${SETTINGS.map(() => '---').join('|')}|`);
console.log(`| oracle | ${SETTINGS.map(() => '0').join(' | ')} |`);
for (const [name, router] of ROUTERS) {
  const cells = SETTINGS.map((s) => summary(seeds.map((seed) => simulate(router, { ...s, tasks: TASKS }, seed))));
  console.log(`| ${name} | ${cells.join(' | ')} |`);
}
console.log(`bandit draw over 1,000 candidate agents: ${latency(1000)} per decision (sampling only)`);
