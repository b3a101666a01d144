/**
 * The activity factory: every activity Arbiter registers, built from injected dependencies
 * (samples-typescript's activities-dependency-injection pattern). Workflows import only the
 * type of the returned object.
 */
import { createAgentActivities } from './agents';
import type { ActivityDeps } from './deps';
import { createDeliveryActivities } from './delivery';
import { createRoutingActivities } from './routing';
import { createSpecActivities } from './spec';
import { createTransitionActivities } from './transitions';
import { createVerdictActivities } from './verdict';
import { createVerificationActivities } from './verification';
import { createWorkspaceActivities } from './workspace';

export type { ActivityDeps } from './deps';

/** All activities, keyed by the names workflows call them by. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createTransitionActivities(deps),
    ...createSpecActivities(),
    ...createRoutingActivities(deps),
    ...createWorkspaceActivities(deps),
    ...createAgentActivities(deps),
    ...createVerificationActivities(deps),
    ...createVerdictActivities(deps),
    ...createDeliveryActivities(deps),
  };
}

/** The activity interface workflows proxy. */
export type ArbiterActivities = ReturnType<typeof createActivities>;
