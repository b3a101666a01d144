/**
 * A bundle whose `agentConversation` is deliberately incompatible, for the child replay's negative
 * case: its first command starts a timer where every recorded conversation run first scheduled an
 * activity. `taskLifecycle` is the real one, so only the child's runs can fail.
 */
import { sleep } from '@temporalio/workflow';

export { taskLifecycle } from '../../workflows/task-lifecycle';

/** Same name as the real child workflow, different first command. */
export async function agentConversation(): Promise<void> {
  await sleep('1 minute');
}
