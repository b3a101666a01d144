/**
 * A deliberately incompatible `taskLifecycle` for the replay test's negative case: its first
 * command schedules an activity the recorded histories never scheduled first.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { ArbiterActivities } from '../../activities';

const { loadRepoPolicy } = proxyActivities<ArbiterActivities>({ startToCloseTimeout: '1m' });

/** Same name as the real workflow, different first command. */
export async function taskLifecycle(input: { tenantId: string; taskId: string }): Promise<void> {
  await loadRepoPolicy({ tenantId: input.tenantId, taskId: input.taskId, repoPath: '/nowhere' });
}
