/**
 * Capacity that heals itself. An agent's capacity is counted from PostgreSQL rows that only
 * workflow code moves to a terminal state; a run that ends outside workflow code (terminated,
 * timed out, over the history limit, reset) would hold its unit forever. So before routing calls
 * an agent full, it asks Temporal about the runs holding it: a closed run holds nothing. An
 * insider who terminates runs therefore cannot pin an agent's capacity.
 */
import { log } from '@temporalio/activity';
import { capacityHolders, type CapacityHolder } from '../db/agents';
import type { DbExecutor } from '../db/client';
import type { ActivityDeps } from './deps';

/** Closed runs seen by this worker; a closed run never reopens, so each is asked about once. */
const closedRuns = new Set<string>();
const MAX_REMEMBERED = 10_000;

async function isClosed(runIsOpen: NonNullable<ActivityDeps['runIsOpen']>, holder: CapacityHolder): Promise<boolean> {
  if (closedRuns.has(holder.runId)) return true;
  if (await runIsOpen(holder)) return false;
  if (closedRuns.size >= MAX_REMEMBERED) closedRuns.clear();
  closedRuns.add(holder.runId);
  log.warn('capacity released: the run holding it ended outside workflow code', { ...holder });
  return true;
}

/**
 * `running` (per agent) without the runs Temporal reports closed, for every agent it counts as
 * full. Without a way to ask Temporal (`runIsOpen` absent) the counts stand as they are.
 */
export async function withoutClosedRuns(
  db: DbExecutor,
  { runIsOpen }: Pick<ActivityDeps, 'runIsOpen'>,
  agents: Array<{ id: string; maxConcurrency: number }>,
  running: Map<string, number>,
): Promise<Map<string, number>> {
  if (!runIsOpen) return running;
  const counts = new Map(running);
  for (const agent of agents) {
    if ((running.get(agent.id) ?? 0) < agent.maxConcurrency) continue;
    const holders = await capacityHolders(db, agent.id);
    const closed = await Promise.all(holders.map((h) => isClosed(runIsOpen, h)));
    counts.set(agent.id, closed.filter((c) => !c).length);
  }
  return counts;
}
