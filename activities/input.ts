/**
 * Input validation at the activity boundary. A malformed input never becomes valid by
 * retrying, so it fails non-retryably with every problem named instead of looping.
 */
import { zodProblems } from '../domain/zod-issues';
import type { z } from 'zod';
import { InvalidActivityInputError } from '../domain/errors';

/** Parses `raw` with `schema` or throws {@link InvalidActivityInputError}. */
export function parseActivityInput<S extends z.ZodTypeAny>(schema: S, raw: unknown): z.output<S> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new InvalidActivityInputError(zodProblems(parsed.error));
  return parsed.data;
}
