/** Driving one task through the shared stack's client, as a submitter would. */
import type { TaskInput, TaskSnapshot } from '../../domain/task';
import { testStack } from './stack';

/** Submits the task and follows it to its terminal snapshot. */
export async function runToEnd(input: TaskInput): Promise<TaskSnapshot> {
  const { client } = testStack();
  await client.submit(input);
  return client.watch(input, undefined, 200);
}
