/**
 * Capacity that heals itself. An agent's capacity is counted from PostgreSQL rows that only
 * workflow code moves to a terminal state; a run that ends outside workflow code (terminated,
 * timed out, over the history limit, reset) would hold its unit forever. So before routing calls
 * an agent full, it asks Temporal about the runs holding it: a closed run holds nothing. An
 * insider who terminates runs therefore cannot pin an agent's capacity.
 *
 * At scale an agent may hold a thousand runs; asking about each on every routing decision would
 * be a thousand calls per decision. A closed run never reopens, so it is remembered for good; an
 * open one is remembered for {@link OPEN_TTL_MS}, so a full agent costs its holders' calls at most
 * once per that interval. The calls are made outside any lock (routing's lock only rereads the
 * remembered answers: {@link knownClosedHolders}).
 */
import { log } from '@temporalio/activity';
import { capacityHolders, type CapacityHolder } from '../db/agents';
import type { DbExecutor } from '../db/client';
import type { ActivityDeps } from './deps';

/** How long an "open" answer stands: a run terminated meanwhile frees its unit at most this late. */
const OPEN_TTL_MS = 10_000;
/** At most this many calls to Temporal at once. */
const PARALLEL_ASKS = 32;
const MAX_REMEMBERED = 10_000;

/** Closed runs seen by this worker; a closed run never reopens, so each is asked about once. */
const closedRuns = new Set<string>();
/** Runs seen open, until when that answer stands (ms since the epoch). */
const openUntil = new Map<string, number>();

type RunIsOpen = NonNullable<ActivityDeps['runIsOpen']>;

function remember<K>(store: Set<K> | Map<K, number>, key: K, until?: number): void {
  if (store.size >= MAX_REMEMBERED) store.clear();
  if (store instanceof Set) store.add(key);
  else store.set(key, until as number);
}

async function isClosed(runIsOpen: RunIsOpen, holder: CapacityHolder): Promise<boolean> {
  if (closedRuns.has(holder.runId)) return true;
  if ((openUntil.get(holder.runId) ?? 0) > Date.now()) return false;
  if (await runIsOpen(holder)) {
    remember(openUntil, holder.runId, Date.now() + OPEN_TTL_MS);
    return false;
  }
  openUntil.delete(holder.runId);
  remember(closedRuns, holder.runId);
  log.warn('capacity released: the run holding it ended outside workflow code', { ...holder });
  return true;
}

/** How many of `holders` are closed, asking at most {@link PARALLEL_ASKS} at a time. */
async function countClosed(runIsOpen: RunIsOpen, holders: CapacityHolder[]): Promise<number> {
  let closed = 0;
  for (let i = 0; i < holders.length; i += PARALLEL_ASKS) {
    const answers = await Promise.all(holders.slice(i, i + PARALLEL_ASKS).map((h) => isClosed(runIsOpen, h)));
    closed += answers.filter(Boolean).length;
  }
  return closed;
}

/**
 * The counts of `found` (agents with the tasks they hold) that the runs Temporal reports closed
 * correct, by agent: asked only about agents counted full. Without a way to ask Temporal
 * (`runIsOpen` absent) nothing is corrected.
 */
export async function closedRunCorrections(
  db: DbExecutor,
  { runIsOpen }: Pick<ActivityDeps, 'runIsOpen'>,
  found: Array<{ agent: { id: string; maxConcurrency: number }; running: number }>,
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  if (!runIsOpen) return counts;
  for (const { agent, running } of found) {
    if (running < agent.maxConcurrency) continue;
    const holders = await capacityHolders(db, agent.id);
    counts.set(agent.id, holders.length - (await countClosed(runIsOpen, holders)));
  }
  return counts;
}

/** How many of the runs holding `agentId` this worker already knows closed; asks nobody. */
export async function knownClosedHolders(db: DbExecutor, agentId: string): Promise<number> {
  if (closedRuns.size === 0) return 0;
  return (await capacityHolders(db, agentId)).filter((h) => closedRuns.has(h.runId)).length;
}
