/**
 * One way to turn a zod error into the problems a person reads: `path: message` each, the path
 * dotted and prefixed as the caller's context names it, on one line with nothing a terminal acts on
 * (a key or a value it quotes is the input's). Every boundary that validates input (task input,
 * activity input, configs, policies, tool arguments) reports problems alike.
 */
import type { ZodError } from 'zod';
import { boundedList } from './bounds';
import { printable } from './printable';

/** How a problem's path is written. */
export interface IssueFormat {
  /** Written for an issue at the root (empty path); the default is `input`. */
  root?: string;
  /** Put before every path (e.g. `config` makes `config.model`); none by default. */
  prefix?: string;
}

/**
 * Issues a report lists. Input that breaks one rule a million times (a list of a million wrong
 * elements) would otherwise make a message of tens of megabytes.
 */
const MAX_LISTED = 20;

/** Each issue of `error` as `path: message`, the first {@link MAX_LISTED} and how many more. */
export function zodProblems(error: ZodError, format: IssueFormat = {}): string[] {
  const root = format.root ?? 'input';
  const listed = error.issues.slice(0, MAX_LISTED).map((issue) => {
    const path = [...(format.prefix ? [format.prefix] : []), ...issue.path.slice(0, 8)].join('.');
    return printable(`${path || root}: ${issue.message}`);
  });
  return boundedList(listed, MAX_LISTED, 500, error.issues.length);
}
