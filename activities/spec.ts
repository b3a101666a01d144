/**
 * `validateSpec`: YAML in, one normalised CAWS spec stored for the run's activities (which read
 * it by reference) and its essentials out for the workflow, or a non-retryable SpecInvalidError
 * naming every problem.
 */
import { log } from '@temporalio/activity';
import { specEssentials, taskSpecArtifactId, ValidateSpecInput, type ValidateSpecResult } from '../domain/activity-io';
import { boundedList } from '../domain/bounds';
import { SpecInvalidError } from '../domain/errors';
import { promptTooLong } from '../domain/prompt';
import { scopeReachingProtected } from '../domain/protected-paths';
import { validateWorkingSpec, type WorkingSpec } from '../domain/spec';
import { sha256 } from '../host/digest';
import type { ActivityDeps } from './deps';
import { parseActivityInput } from './input';
import { currentRun } from './run-identity';
import { requireOwnTask } from './task-ended';
import { storeSpec } from './spec-refs';
import { parseSpecYaml } from './spec-yaml';

/** Warnings a result carries to the workflow (and the task's snapshot); the rest are logged only as a count. */
const MAX_WARNINGS = 50;

/**
 * A scope that reaches a protected path asks for a change the `protected` gate will always
 * refuse: said up front, and at tier 1 (where scope is strict) refused.
 */
function protectedScopeFindings(spec: WorkingSpec): { problems: string[]; warnings: string[] } {
  const found = scopeReachingProtected(spec.scope.in, spec.riskTier).map(
    ({ entry, path }) => `scope.in '${entry}' covers the protected path ${path}, which no change may touch`,
  );
  return spec.riskTier === 1 ? { problems: found, warnings: [] } : { problems: [], warnings: found };
}

/** Builds the `validateSpec` activity. */
export function createSpecActivities({ db }: Pick<ActivityDeps, 'db'>) {
  return {
    async validateSpec(raw: ValidateSpecInput): Promise<ValidateSpecResult> {
      const input = parseActivityInput(ValidateSpecInput, raw);
      const format = input.specFormat === 'auto' ? undefined : input.specFormat;
      const result = validateWorkingSpec(parseSpecYaml(input.specYaml), { format });
      if (!result.ok) {
        log.warn('working spec rejected', { problems: result.problems });
        throw new SpecInvalidError(result.problems);
      }
      const tooLong = promptTooLong(result.spec);
      const { problems, warnings } = protectedScopeFindings(result.spec);
      if (tooLong || problems.length) throw new SpecInvalidError([...(tooLong ? [tooLong] : []), ...problems]);
      const allWarnings = boundedList([...result.warnings, ...warnings], MAX_WARNINGS, 500);
      for (const warning of allWarnings) log.warn('working spec warning', { warning });
      const run = currentRun();
      await requireOwnTask(db, input, run, { open: true });
      const owner = { tenantId: input.tenantId, taskId: input.taskId, runId: run.runId };
      const specDigest = sha256(input.specYaml);
      const specRef = await storeSpec(db, taskSpecArtifactId(owner), owner, result.spec, specDigest);
      return { spec: specEssentials(result.spec), warnings: allWarnings, specDigest, specRef };
    },
  };
}
