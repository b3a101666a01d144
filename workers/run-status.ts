/**
 * Whether a task's workflow run is still open, asked of the Temporal server over the worker's own
 * connection. Routing uses it to free the capacity of runs that ended outside workflow code.
 */
import { isGrpcServiceError } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { namespaceForTenant, type TemporalProfile } from '../temporal-config/connection';
import type { ActivityDeps } from '../activities';

/** `WORKFLOW_EXECUTION_STATUS_RUNNING` in temporal.api.enums.v1 (a transitive package, not imported). */
const RUNNING = 1;
/** gRPC status NOT_FOUND. */
const NOT_FOUND = 5;

/**
 * Builds `runIsOpen` for the activities. A run the server no longer knows (its history is past
 * retention) is closed; when the server cannot be asked, the run counts as open, so an outage
 * never frees capacity that is really in use.
 */
export function runStatusProbe(
  connection: NativeConnection,
  profile: Pick<TemporalProfile, 'namespace' | 'tenantNamespaces'>,
): NonNullable<ActivityDeps['runIsOpen']> {
  return async ({ tenantId, workflowId, runId }) => {
    const namespace = namespaceForTenant(profile, tenantId) ?? profile.namespace;
    try {
      const described = await connection.workflowService.describeWorkflowExecution({
        namespace,
        execution: { workflowId, runId },
      });
      return described.workflowExecutionInfo?.status === RUNNING;
    } catch (err) {
      return !(isGrpcServiceError(err) && err.code === NOT_FOUND);
    }
  };
}
