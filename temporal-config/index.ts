/**
 * Every Temporal name Arbiter uses — task queue, workflow ids, search attributes — is built
 * here so the worker, the client, the CLI and operators' `temporal` commands always agree.
 * Pure: imported by workflow code.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Default task queue for task workflows and their activities; overridable per process. */
export const DEFAULT_TASK_QUEUE = 'arbiter-tasks';

/**
 * The queue of one worker host. Workspaces live on a host's disk, so steps that use a
 * workspace go to the queue of the host that prepared it.
 */
export function hostTaskQueue(taskQueue: string, hostId: string): string {
  return `${taskQueue}/host/${hostId}`;
}

/** Workflow type name, spelled once for clients that start workflows by name. */
export const TASK_WORKFLOW_TYPE = 'taskLifecycle';

/** A task is addressed by tenant and id everywhere: in Postgres, in ids and in the CLI. */
export interface TaskRef {
  tenantId: string;
  taskId: string;
}

const WORKFLOW_ID_PREFIX = 'task/';
const ID_PART = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,126}[A-Za-z0-9_-])?$/;

/** Why a tenant or task id is refused, or undefined when it is fine. */
export function idPartProblem(value: string): string | undefined {
  if (!ID_PART.test(value))
    return 'must be 1-128 letters, digits, . _ -, start with a letter or digit and not end with .';
  // The task id becomes the git branch `arbiter/<taskId>`: keep to what `git check-ref-format` accepts.
  if (value.includes('..')) return 'must not contain ..';
  if (value.endsWith('.lock')) return 'must not end with .lock';
  return undefined;
}

/** True when `value` can be used as a tenant or task id (it becomes part of ids and branch names). */
export function isValidIdPart(value: string): boolean {
  return idPartProblem(value) === undefined;
}

/**
 * `task/<tenantId>/<taskId>`: deterministic, so submitting the same task twice addresses
 * the same workflow and Temporal's id uniqueness prevents a second execution.
 */
export function taskWorkflowId(ref: TaskRef): string {
  return `${WORKFLOW_ID_PREFIX}${ref.tenantId}/${ref.taskId}`;
}

/** Inverse of {@link taskWorkflowId}; undefined for ids that are not Arbiter task ids. */
export function parseTaskWorkflowId(workflowId: string): TaskRef | undefined {
  if (!workflowId.startsWith(WORKFLOW_ID_PREFIX)) return undefined;
  const [tenantId, taskId, ...rest] = workflowId.slice(WORKFLOW_ID_PREFIX.length).split('/');
  if (!tenantId || !taskId || rest.length > 0) return undefined;
  return { tenantId, taskId };
}

/**
 * `conversation/<conversationId>`: the workflow id of a task run's `openai` conversation, run as a
 * child workflow. The conversation id names the tenant, task, parent run and attempt, so the id
 * says whose conversation it is, and the child refuses to run under any other.
 */
export function conversationWorkflowId(conversationId: string, attempt = 1): string {
  return attempt === 1 ? `conversation/${conversationId}` : `conversation/${conversationId}/attempt-${attempt}`;
}

/** True when `workflowId` is a child running conversation `conversationId`: its first attempt's or a retry's. */
export function isConversationWorkflow(workflowId: string, conversationId: string): boolean {
  const base = conversationWorkflowId(conversationId);
  if (workflowId === base) return true;
  return workflowId.startsWith(`${base}/`) && /^attempt-[2-9]$/.test(workflowId.slice(base.length + 1));
}

/** Delivery branches live under this prefix; none of them is ever a policy ref. */
export const DELIVERY_BRANCH_PREFIX = 'arbiter/';

/** Git branch a delivered change lands on in the target repository. */
export function deliveryBranch(taskId: string): string {
  return `${DELIVERY_BRANCH_PREFIX}${taskId}`;
}

/** Lifecycle state, so operators can `temporal workflow list --query 'ArbiterState="VERIFYING"'`. */
export const ARBITER_STATE = defineSearchAttributeKey('ArbiterState', SearchAttributeType.KEYWORD);
/** Tenant owning the task, for per-tenant visibility queries. */
export const TENANT_ID = defineSearchAttributeKey('TenantId', SearchAttributeType.KEYWORD);
/** CAWS risk tier (1–3) once the spec is validated. */
export const RISK_TIER = defineSearchAttributeKey('RiskTier', SearchAttributeType.INT);
/** Agent the task was routed to. */
export const AGENT_ID = defineSearchAttributeKey('AgentId', SearchAttributeType.KEYWORD);
/** Verdict outcome (PASS / FAIL / WAIVED) once issued. */
export const VERDICT = defineSearchAttributeKey('Verdict', SearchAttributeType.KEYWORD);

/** All custom search attributes; a server must have these registered before tasks start. */
export const SEARCH_ATTRIBUTE_KEYS = [ARBITER_STATE, TENANT_ID, RISK_TIER, AGENT_ID, VERDICT];

/**
 * What a task's run shows in visibility from its start, before its first workflow task writes
 * anything: whoever starts it (a client's submit, or a task starting its best-of-N candidates).
 */
export function initialSearchAttributes(tenantId: string) {
  return [
    { key: TENANT_ID, value: tenantId },
    { key: ARBITER_STATE, value: 'RECEIVED' },
  ];
}

/** `temporal server start-dev --search-attribute` arguments for the keys above. */
export function devServerSearchAttributeArgs(): string[] {
  const cliType: Record<string, string> = { KEYWORD: 'Keyword', INT: 'Int' };
  return SEARCH_ATTRIBUTE_KEYS.flatMap((key) => ['--search-attribute', `${key.name}=${cliType[key.type]}`]);
}

/**
 * Per-run limits Arbiter sets on the servers it starts (dev server, `arbiter cluster`, compose).
 * An insider with a namespace's write access sent empty signals until a run waiting for a waiver
 * passed Temporal's 51,200 events (each `approversChanged` rereads the approvers' keys: about 6.5
 * events; the server's default allows 10,000 signals), and kept a few refused 1.9 MB updates in
 * flight, whose refusals, carrying the requests back, made every workflow task's reply too large
 * for gRPC, so queries failed and a cancel took seconds (found in review). A run takes at most
 * 1,000 signals, and its updates in flight at most 1 MiB of requests; Arbiter's own are a few, of
 * at most 16 KiB.
 */
export const SERVER_RUN_LIMITS = {
  'history.maximumSignalsPerExecution': 1000,
  'history.maxInFlightUpdatePayloads': 1024 * 1024,
} as const;
