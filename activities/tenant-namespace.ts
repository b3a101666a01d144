/**
 * A task's steps run only in its tenant's namespace. An insider who can start workflows in one
 * namespace can name any tenant's task in a workflow id (`task/<tenant>/<task>`), and the task's
 * records are keyed by tenant and task, not by namespace: refused only at the repository lookup,
 * such a run had already written its first transitions, taking over (and ending) a task of that
 * tenant running in its own namespace. So every step that names a tenant checks first.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { TenantNamespaceError } from '../domain/errors';
import { namespaceForTenant } from '../temporal-config/connection';
import type { ActivityDeps } from './deps';
import { wrapEach, type Activity } from './wrap';

/** The tenant an activity's input names, if any (every task step's input has `tenantId` at its top). */
function tenantOf(input: unknown): string | undefined {
  const tenantId = (input as { tenantId?: unknown } | null | undefined)?.tenantId;
  return typeof tenantId === 'string' ? tenantId : undefined;
}

/** Refuses a run whose namespace is not the one configured for `tenantId`. */
function checkNamespace(temporal: NonNullable<ActivityDeps['temporal']>, tenantId: string): void {
  const actual = Context.current().info.workflowNamespace ?? '';
  const expected = namespaceForTenant(temporal, tenantId) ?? '(none configured)';
  if (actual !== expected) throw new TenantNamespaceError(tenantId, actual, expected);
}

/**
 * Wraps every activity so that it runs only in the namespace of the tenant its input names,
 * before it reads or writes anything. Only the activities in `tenantless` (the schedules'
 * maintenance, which acts for every tenant) may name none: a step added later without a
 * `tenantId` fails loudly instead of going unchecked. Without the worker's namespaces (`temporal`
 * absent, as in unit tests of single steps) nothing is checked.
 */
export function refuseOtherNamespaces<T extends Record<string, Activity>>(
  activities: T,
  { temporal }: Pick<ActivityDeps, 'temporal'>,
  tenantless: ReadonlySet<string>,
): T {
  if (!temporal) return activities;
  return wrapEach(activities, (fn, name) => async (...args) => {
    const tenantId = tenantOf(args[0]);
    if (tenantId !== undefined) checkNamespace(temporal, tenantId);
    else if (!tenantless.has(name))
      throw ApplicationFailure.nonRetryable(`activity ${name} names no tenant, so its namespace cannot be checked`);
    return fn(...args);
  });
}
