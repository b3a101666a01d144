/** The one check every workflow makes of its own input, since an insider can start it by hand. */
import { ApplicationFailure } from '@temporalio/workflow';
import type { z } from 'zod';
import { zodProblems } from '../domain/zod-issues';

/**
 * `raw` parsed by `schema`; otherwise the run fails at once, naming each problem (as
 * `InvalidTaskInputError`), instead of failing its workflow tasks forever.
 */
export function parseWorkflowInput<S extends z.ZodTypeAny>(schema: S, raw: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const problems = zodProblems(parsed.error);
  throw ApplicationFailure.nonRetryable(`invalid ${what}: ${problems.join('; ')}`, 'InvalidTaskInputError', problems);
}
