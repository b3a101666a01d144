/**
 * Fault injection: at random intervals one fault at a time, the kinds taken in shuffled
 * rounds so each kind recurs: a worker SIGKILLed and restarted, the Temporal server stopped
 * and restarted, Arbiter's PostgreSQL down for tens of seconds. The first round is always
 * finished, so even a run shorter than one round injects every kind it was given.
 */
import type { ArbiterPostgres, TemporalTarget, WorkerProcesses } from './processes';

/** The fault kinds. */
export const FAULT_KINDS = ['worker', 'temporal', 'postgres'] as const;
/** One fault kind. */
export type FaultKind = (typeof FAULT_KINDS)[number];

/** A fault as it happened: when it began and when the faulty part was back. */
export interface InjectedFault {
  kind: FaultKind;
  detail: string;
  at: number;
  recoveredAt: number;
}

/** What the injector may break, and how hard. */
export interface FaultPlan {
  kinds: FaultKind[];
  /** Pause between faults, uniformly in [min, max] ms. */
  gapMs: [number, number];
  /** How long Arbiter's PostgreSQL stays down, in [min, max] ms. */
  postgresDownMs: [number, number];
}

/** What the injector breaks: the parts of the run's processes it stops and starts. */
export interface FaultTargets {
  workers: Pick<WorkerProcesses, 'count' | 'killAndRestart'>;
  temporal: Pick<TemporalTarget, 'outage'>;
  postgres: Pick<ArbiterPostgres, 'stop' | 'restart'>;
}

const between = ([min, max]: [number, number]) => min + Math.random() * (max - min);
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Whether every kind of the plan has been injected at least once. */
function everyKindInjected(plan: FaultPlan, faults: InjectedFault[]): boolean {
  return plan.kinds.every((kind) => faults.some((f) => f.kind === kind));
}

/**
 * Injects faults until `stopAt` and until every kind of the plan was injected once, whichever is
 * later (a fault under way is finished); returns them in order.
 */
export async function injectFaults(
  plan: FaultPlan,
  parts: FaultTargets,
  stopAt: number,
  say: (line: string) => void,
): Promise<InjectedFault[]> {
  const faults: InjectedFault[] = [];
  let round: FaultKind[] = [];
  for (;;) {
    await pause(between(plan.gapMs));
    if (Date.now() >= stopAt && everyKindInjected(plan, faults)) return faults;
    if (round.length === 0) round = shuffled(plan.kinds);
    const kind = round.shift() as FaultKind;
    const at = Date.now();
    const detail = await inject(kind, plan, parts);
    faults.push({ kind, detail, at, recoveredAt: Date.now() });
    say(
      `${new Date(at).toISOString()} fault ${faults.length}: ${kind} (${detail}), back after ${((Date.now() - at) / 1000).toFixed(1)} s`,
    );
  }
}

async function inject(kind: FaultKind, plan: FaultPlan, parts: FaultTargets): Promise<string> {
  switch (kind) {
    case 'worker': {
      const i = Math.floor(Math.random() * parts.workers.count);
      await parts.workers.killAndRestart(i, between([1000, 5000]));
      return `worker ${i} SIGKILL`;
    }
    case 'temporal':
      return parts.temporal.outage(between([2000, 8000]));
    case 'postgres': {
      const down = between(plan.postgresDownMs);
      await parts.postgres.stop();
      await pause(down);
      await parts.postgres.restart();
      return `down ${Math.round(down / 1000)} s`;
    }
  }
}
