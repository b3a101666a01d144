/**
 * The spec a task run works to. The workflow keeps only its essentials; activities read the
 * whole spec by reference. A run reset past its validation replays the replaced run's result,
 * whose reference every activity refuses (it names the other run): the first time the reset run
 * goes forward it validates the spec text again, under a patch, and works to its own.
 */
import { workflowInfo } from '@temporalio/workflow';
import { hasOwnPatch } from './patches';
import {
  taskSpecArtifactId,
  type SpecEssentials,
  type SpecRef,
  type ValidateSpecInput,
  type ValidateSpecResult,
} from '../domain/activity-io';
import type { WorkingSpec } from '../domain/spec';
import { localSteps, validateSpec, validateSpecLocally } from './activity-proxies';

/** Patch id of the change that made a reset run validate again instead of passing the spec inline. */
export const REVALIDATE_AFTER_RESET_PATCH = 'revalidate-spec-after-reset';

/** Runs `validateSpec` as this run runs its short steps (locally, or as the histories before that did). */
export function runValidateSpec(input: ValidateSpecInput): Promise<ValidateSpecResult> {
  return (localSteps() ? validateSpecLocally : validateSpec)(input);
}

/** The validated spec of one run: its essentials, and what activities are given for the whole. */
export class RunSpec {
  constructor(
    private result: ValidateSpecResult,
    private readonly source: ValidateSpecInput,
  ) {}

  /** The fields the workflow's own steps read. */
  get spec(): SpecEssentials {
    return this.result.spec;
  }

  /** sha256 of the spec text as validated. */
  get specDigest(): string {
    return this.result.specDigest;
  }

  /** The validator's warnings. */
  get warnings(): string[] {
    return this.result.warnings;
  }

  /**
   * The spec as the next activity takes it: this run's stored reference, validating the text
   * again first when the reference is another run's (a reset). A result without a reference, or
   * one naming another run before the revalidation patch, was recorded with the whole spec in
   * it, which travels inline as it did then. While replaying a run reset twice, the validation
   * replayed may name the run in between; the next call validates again for this one.
   */
  async forActivity(): Promise<SpecRef | WorkingSpec> {
    const ref = this.result.specRef;
    const own = taskSpecArtifactId({ ...this.source, runId: workflowInfo().runId });
    if (ref?.artifactId === own) return ref;
    if (!ref || !hasOwnPatch(REVALIDATE_AFTER_RESET_PATCH)) return this.result.spec as WorkingSpec;
    this.result = await runValidateSpec(this.source);
    return this.result.specRef ?? (this.result.spec as WorkingSpec);
  }
}
