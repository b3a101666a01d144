/** Parses the TASK argument: `taskId`, `tenant/taskId` or a full workflow id `task/tenant/taskId`. */
import { isValidIdPart, parseTaskWorkflowId, type TaskRef } from '../../temporal-config';
import { UsageError } from './output';

/** The task a CLI argument names, using `defaultTenant` when it names none. */
export function parseTaskArg(arg: string, defaultTenant: string): TaskRef {
  const ref =
    parseTaskWorkflowId(arg) ??
    (arg.includes('/')
      ? { tenantId: arg.split('/')[0], taskId: arg.split('/').slice(1).join('/') }
      : { tenantId: defaultTenant, taskId: arg });
  if (!isValidIdPart(ref.tenantId) || !isValidIdPart(ref.taskId)) {
    throw new UsageError(`'${arg}' is not a task: use TASK_ID, TENANT/TASK_ID or task/TENANT/TASK_ID`);
  }
  return ref;
}
