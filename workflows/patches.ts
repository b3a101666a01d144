/**
 * How a workflow asks whether a change applies to its run. Every change to what a workflow
 * commands is made under a patch id, so runs recorded before it replay (README *Changing the
 * workflow safely*). Temporal records a marker and a `TemporalChangeVersion` upsert for each patch
 * a run checks, and the server pays a visibility write for every upsert: a completed task checked
 * four. A run started on this code records one, {@link RELEASE_7_PATCH}, which stands for every
 * patch id before it but those of {@link OwnMarkerPatch}; a run recorded earlier
 * replays its own markers as it always did.
 */
import { patched } from '@temporalio/workflow';

/** The patch a run started on this code records instead of each of the ids listed in {@link hasPatch}. */
export const RELEASE_7_PATCH = 'arbiter-release-7';

/** Patch ids made before {@link RELEASE_7_PATCH}, which it stands for. */
export type PatchBeforeRelease7 =
  | 'bounded-task-input'
  | 'candidate-inputs'
  | 'best-of-n'
  | 'local-short-steps'
  | 'retry-with-feedback'
  | 'wait-for-sandbox-uid'
  | 'release-abandoned-workspaces'
  | 'conversation-child-workflow'
  | 'waiver-decisions-one-at-a-time'
  | 'cancel-signal-cancels-run'
  | 'run-waits-for-handlers'
  | 'cancelled-run-ends-cancelled';

/**
 * True when this run takes the change made under `id`: a run started on this code always does
 * (its one marker is release 7's); a run recorded before takes it as `patched(id)` says, so its
 * replay asks exactly what it asked when it ran. Changes made after release 7 need their own id.
 */
export function hasPatch(id: PatchBeforeRelease7 | typeof RELEASE_7_PATCH): boolean {
  return patched(RELEASE_7_PATCH) || patched(id);
}

/**
 * Patch ids that {@link RELEASE_7_PATCH} does not stand for: changes made after it, and the reset
 * check, which must answer no while a reset copy replays its original's events (the original
 * never asked there) and yes once the copy runs on; release 7's marker, recorded in the first
 * workflow task, would say yes throughout.
 */
export type OwnMarkerPatch =
  | 'revalidate-spec-after-reset'
  | 'agent-health-from-agent-run'
  | 'agent-fault-while-verifying'
  | 'withdraw-lapsed-approvals'
  | 'child-cancel-fails-its-step'
  | 'host-loss-not-agent-failure'
  | 'no-delivery-once-cancelled'
  | 'queued-decision-refused-at-close'
  | 'conversation-named-in-history'
  | 'decisions-strictly-in-turn'
  | 'gate-argv-without-nul'
  | 'spec-refused-before-routing'
  | 'base-counted-not-waivable';

/**
 * `patched(id)` alone, asked only where the change would make the run command something else:
 * only runs that reach that point record the marker.
 */
export function hasOwnPatch(id: OwnMarkerPatch): boolean {
  return patched(id);
}
