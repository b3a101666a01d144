/**
 * One way to turn a zod error into the problems a person reads: `path: message` each, the path
 * dotted and prefixed as the caller's context names it. Every boundary that validates input
 * (task input, activity input, configs, policies, tool arguments) reports problems alike.
 */
import type { ZodError } from 'zod';

/** How a problem's path is written. */
export interface IssueFormat {
  /** Written for an issue at the root (empty path); the default is `input`. */
  root?: string;
  /** Put before every path (e.g. `config` makes `config.model`); none by default. */
  prefix?: string;
}

/** Each issue of `error` as `path: message`. */
export function zodProblems(error: ZodError, format: IssueFormat = {}): string[] {
  const root = format.root ?? 'input';
  return error.issues.map((issue) => {
    const path = [...(format.prefix ? [format.prefix] : []), ...issue.path].join('.');
    return `${path || root}: ${issue.message}`;
  });
}
