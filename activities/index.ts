/**
 * The activity factory: every activity Arbiter registers, built from injected dependencies
 * (samples-typescript's activities-dependency-injection pattern). Workflows import only the
 * type of the returned object.
 */
import { log } from '@temporalio/activity';
import { createAgentActivities } from './agent-runs';
import { createConversationActivities } from './conversation';
import type { ActivityDeps } from './deps';
import { createDeliveryActivities } from './delivery';
import { createDependencyActivities } from './dependencies';
import { createFeedbackActivities } from './feedback';
import { createMaintenanceActivities } from './maintenance';
import { createRepoPolicyActivities } from './repo-policy';
import { createRepoActivities } from './repos';
import { createRoutingActivities } from './routing';
import { createCandidateActivities } from './candidates';
import { createOwnRunActivities } from './own-run';
import { createCommandRunner } from '../host/sandbox/commands';
import { createFileTools } from '../host/sandbox/file-tools';
import { taskSandboxUser } from '../host/workspace';
import { createSpecActivities } from './spec';
import { createTransitionActivities } from './transitions';
import { createVerdictActivities } from './verdict';
import { createGateActivities } from './gates';
import { createVerificationActivities } from './verification';
import { createWaiverActivities } from './waivers';
import { createWorkspaceActivities } from './workspace';
import { refuseDeterministicDatabaseErrors } from './db-errors';
import { heartbeatFromStart } from './heartbeat';
import { paceBusyRetries } from './busy-retry';
import { keepRefusalsFinal } from './final-refusals';
import { refuseOtherNamespaces } from './tenant-namespace';

export type { ActivityDeps } from './deps';

/**
 * All activities, keyed by the names workflows call them by; each heartbeats from its start
 * ({@link heartbeatFromStart}) and runs only in its tenant's namespace ({@link refuseOtherNamespaces}).
 */
export function createActivities(deps: ActivityDeps) {
  const maintenance = createMaintenanceActivities(deps);
  const all = { ...buildActivities(deps), ...maintenance };
  const guarded = refuseOtherNamespaces(all, deps, new Set(Object.keys(maintenance)));
  return paceBusyRetries(keepRefusalsFinal(refuseDeterministicDatabaseErrors(heartbeatFromStart(guarded))));
}

function buildActivities(deps: ActivityDeps) {
  const sandboxUser = taskSandboxUser(deps.home, deps.sandbox);
  const tools = createFileTools({ ...deps, sandboxUser });
  const runCommand = createCommandRunner({
    db: deps.db,
    sandbox: deps.sandbox,
    sandboxUser,
    warn: (message, meta) => log.warn(message, meta),
  });
  return {
    ...createTransitionActivities(deps),
    ...createSpecActivities(deps),
    ...createRoutingActivities(deps),
    ...createCandidateActivities(deps),
    ...createRepoActivities(deps),
    ...createRepoPolicyActivities(deps),
    ...createWorkspaceActivities(deps),
    ...createAgentActivities(deps, tools, runCommand),
    ...createDependencyActivities(deps, runCommand),
    ...createConversationActivities(deps, tools, runCommand),
    ...createVerificationActivities(deps),
    ...createGateActivities(deps, runCommand),
    ...createVerdictActivities(deps),
    ...createDeliveryActivities(deps),
    ...createFeedbackActivities(deps, deps.breaker),
    ...createWaiverActivities(deps),
    ...createOwnRunActivities(),
  };
}

/** The activity interface workflows proxy. */
export type ArbiterActivities = ReturnType<typeof createActivities>;
