/**
 * Thompson sampling over agents, per task type. Each agent's success rate is a Beta posterior
 * (prior Beta(1,1)) updated with fractional rewards in [0, 1]; the router samples every
 * candidate's posterior and picks the highest sample. Sampling uses a PRNG seeded from the
 * task, so the same inputs and seed always give the same decision. Pure: no I/O.
 */
import type { VerdictOutcome } from './task';

/** One candidate's evidence so far. */
export interface ArmStats {
  agentId: string;
  /** Sum of rewards. */
  successes: number;
  /** Sum of (1 - reward). */
  failures: number;
}

/** A candidate's score in a decision. */
export interface ArmScore {
  agentId: string;
  /** The posterior draw that decided. */
  sample: number;
  /** Posterior mean (what a greedy router would use). */
  mean: number;
}

/** The outcome of one routing draw. */
export interface BanditDecision {
  chosen: string;
  scores: ArmScore[];
  /** True when the pick is not the agent with the best posterior mean. */
  exploration: boolean;
}

/** A 32-bit hash of a string (FNV-1a), for seeding. */
export function hashSeed(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: small, fast, good enough for sampling; returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(rand: () => number): number {
  const u = Math.max(rand(), Number.MIN_VALUE);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/** Gamma(shape, 1) by Marsaglia–Tsang (boosted for shape < 1). */
export function sampleGamma(shape: number, rand: () => number): number {
  if (shape < 1) return sampleGamma(shape + 1, rand) * Math.pow(Math.max(rand(), Number.MIN_VALUE), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(rand);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rand();
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** Beta(a, b) from two gammas. */
export function sampleBeta(a: number, b: number, rand: () => number): number {
  const x = sampleGamma(a, rand);
  const y = sampleGamma(b, rand);
  return x / (x + y);
}

/** Posterior mean with the Beta(1,1) prior. */
export function posteriorMean(arm: ArmStats): number {
  return (arm.successes + 1) / (arm.successes + arm.failures + 2);
}

/**
 * Picks among `arms` by Thompson sampling with a PRNG seeded by `seed`. Candidates are scored
 * in agent-id order so the draw does not depend on the order they were listed in.
 */
export function thompsonChoose(arms: ArmStats[], seed: number): BanditDecision {
  if (arms.length === 0) throw new Error('thompsonChoose needs at least one candidate');
  const rand = seededRandom(seed);
  const ordered = [...arms].sort((a, b) => a.agentId.localeCompare(b.agentId));
  const scores = ordered.map((arm) => ({
    agentId: arm.agentId,
    sample: sampleBeta(arm.successes + 1, arm.failures + 1, rand),
    mean: posteriorMean(arm),
  }));
  const best = (key: 'sample' | 'mean') => scores.reduce((top, s) => (s[key] > top[key] ? s : top)).agentId;
  const chosen = best('sample');
  return { chosen, scores, exploration: chosen !== best('mean') };
}

/** An agent's evidence for the task's type and for its exact context (kind, tier, size). */
export interface ContextArm {
  agentId: string;
  type: { successes: number; failures: number };
  context: { successes: number; failures: number };
  /** Tasks the agent holds now: one in flight is a try, so an untried agent goes first once at a time. */
  running?: number;
}

/** How much of a task type's record an agent's prior in one of its contexts carries, at most. */
const TYPE_PRIOR_WEIGHT = 8;
/**
 * Draws come from the posterior with its evidence counted this many times: plain Thompson
 * sampling keeps exploring a handful of agents longer than it pays (`npm run bench:routing`,
 * chosen on other seeds than the ones the README reports).
 */
const SHARPNESS = 2;

/**
 * The posterior of `arm` in its context: Beta(1,1) moved towards the agent's record on the task
 * type (worth at most {@link TYPE_PRIOR_WEIGHT} tasks), then by its record in the context itself.
 */
function contextPosterior(arm: ContextArm): { a: number; b: number } {
  const typeTasks = arm.type.successes + arm.type.failures;
  const typeMean = (arm.type.successes + 1) / (typeTasks + 2);
  const weight = Math.min(typeTasks, TYPE_PRIOR_WEIGHT);
  return {
    a: 1 + weight * typeMean + arm.context.successes,
    b: 1 + weight * (1 - typeMean) + arm.context.failures,
  };
}

/** `arms` in the order draws are made in, so a draw does not depend on the order they were listed in. */
function inDrawOrder(arms: ContextArm[]): ContextArm[] {
  if (arms.length === 0) throw new Error('a draw needs at least one candidate');
  return [...arms].sort((x, y) => x.agentId.localeCompare(y.agentId));
}

/**
 * One arm's score: its draw from its context posterior, or, for an agent never tried on the task
 * type and with no task in flight, 1 + a random fraction, which puts it first. Takes from `rand`
 * the same numbers whichever it is, so the draws of the arms after it do not depend on it.
 */
function drawArm(arm: ContextArm, rand: () => number): ArmScore {
  const { a, b } = contextPosterior(arm);
  const untried = arm.type.successes + arm.type.failures === 0 && !arm.running;
  const draw = sampleBeta(1 + SHARPNESS * (a - 1), 1 + SHARPNESS * (b - 1), rand);
  return { agentId: arm.agentId, sample: untried ? 1 + rand() : draw, mean: a / (a + b) };
}

/**
 * Ranks `arms` for a task, best first: every agent never tried on the task type, and with no task
 * in flight, comes first (in a seeded random order), so each capable agent is tried early; the rest by a Thompson draw from
 * their context posteriors. The first is the routing pick; the first N are N distinct candidates.
 */
export function rankArms(arms: ContextArm[], seed: number): ArmScore[] {
  const rand = seededRandom(seed);
  const scores = inDrawOrder(arms).map((arm) => drawArm(arm, rand));
  return scores.sort((x, y) => y.sample - x.sample || x.agentId.localeCompare(y.agentId));
}

/**
 * The routing pick among `arms`: {@link rankArms}'s first `keep` as `scores` (the same draws),
 * without ordering the rest, since routing draws over every capable agent on every decision.
 * Exploration when another arm's posterior mean is higher than the pick's.
 */
export function contextualChoose(arms: ContextArm[], seed: number, keep = 1): BanditDecision {
  const rand = seededRandom(seed);
  const top: ArmScore[] = [];
  let bestMean = -Infinity;
  for (const arm of inDrawOrder(arms)) {
    const score = drawArm(arm, rand);
    if (score.mean > bestMean) bestMean = score.mean;
    // Arms come in id order, so an equal draw already kept is the one rankArms puts first.
    let at = top.length;
    while (at > 0 && score.sample > top[at - 1].sample) at--;
    if (at < keep) top.splice(at, 0, score);
    if (top.length > keep) top.pop();
  }
  return { chosen: top[0].agentId, scores: top, exploration: top[0].mean < bestMean };
}

/**
 * Reward of a finished task: 1 for PASS (or WAIVED), else partial credit for gates passed. Never
 * past 1: a reward above it makes the arm's failures negative, and sampling its Beta then throws.
 */
export function rewardFor(outcome: VerdictOutcome, gatesPassed: number, gatesTotal: number): number {
  if (outcome !== 'FAIL') return 1;
  return gatesTotal > 0 ? 0.25 * Math.min(1, gatesPassed / gatesTotal) : 0;
}
