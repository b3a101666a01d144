/** The one check every workflow makes of its own input, since an insider can start it by hand. */
import { ApplicationFailure } from '@temporalio/workflow';
import type { z } from 'zod';
import { zodProblems } from '../domain/zod-issues';

/**
 * `raw` parsed by `schema`; otherwise the run fails at once, naming each problem (as
 * `InvalidTaskInputError`), instead of failing its workflow tasks forever. With `maxCharacters`,
 * input larger than that as JSON fails before zod sees it: zod checks every element of a list
 * before its length, and a hand-started run's list of 400,000 empty arguments took 1.5 s.
 */
export function parseWorkflowInput<S extends z.ZodTypeAny>(
  schema: S,
  raw: unknown,
  what: string,
  maxCharacters?: number,
): z.output<S> {
  const size = maxCharacters === undefined ? 0 : JSON.stringify(raw ?? null).length;
  if (maxCharacters !== undefined && size > maxCharacters)
    throw invalid(what, [`input: ${size} characters as JSON; at most ${maxCharacters}`]);
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw invalid(what, zodProblems(parsed.error));
}

/** The failure a run ends with on input it refuses: `InvalidTaskInputError`, each problem named. */
export function invalid(what: string, problems: string[]): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`invalid ${what}: ${problems.join('; ')}`, 'InvalidTaskInputError', problems);
}
