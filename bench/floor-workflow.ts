/**
 * The load benchmark's floor: a bare workflow that schedules, one after another, the same
 * sequence of no-op activities and local activities a real task's history shows, and nothing
 * else. What Temporal alone costs for that many round trips on the same server and worker.
 */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';

/** One step of a task's history: a scheduled activity or a local activity. */
export type FloorStep = 'activity' | 'local';

/** The floor's no-op activity set. */
export interface FloorActivities {
  noop(): Promise<void>;
}

const { noop } = proxyActivities<FloorActivities>({ startToCloseTimeout: '1m' });
const local = proxyLocalActivities<FloorActivities>({ startToCloseTimeout: '1m' });

/** Runs `steps` in order, each a no-op. */
export async function floorWorkflow({ steps }: { steps: FloorStep[] }): Promise<number> {
  for (const step of steps) await (step === 'local' ? local.noop() : noop());
  return steps.length;
}
