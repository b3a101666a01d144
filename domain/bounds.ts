/**
 * Size limits on what a run holds in workflow memory. Every cached run lives in the worker's
 * workflow thread, whose heap is capped: a value an agent, a model or a submitter can make
 * arbitrarily long would let a few dozen runs exhaust it, and after a restart the same runs
 * replay into the same exhaustion. So each such value is clipped where it enters, to a length
 * that still says what happened.
 */
import { z } from 'zod';
import type { PolicyViolation } from './sandbox';

/** Longest path kept in a violation, or in a left-behind or nested-repository list. */
const MAX_RECORDED_PATH = 256;
/** Longest reason kept in a violation. */
const MAX_RECORDED_REASON = 300;
/** Violations a run keeps in its snapshot: the most recent. Every one is in the sandbox audit (`sandbox_events`). */
const MAX_KEPT_VIOLATIONS = 100;

/** Room a clipped text's note of what was cut takes: a text that fits with it is not clipped again. */
const NOTE_ROOM = 40;

/**
 * `text` with each NUL written `\0`. PostgreSQL's text and jsonb cannot hold the character: an
 * agent printing one in a failing gate's output, or a model putting one in a reply, had the
 * write refused, and the step failed as the host's, with no FAIL counted against the agent.
 */
export function escapeNul(text: string): string {
  return text.includes('\0') ? text.replace(/\0/g, '\\0') : text;
}

/**
 * `text` as jsonb can hold it: each NUL written `\0` ({@link escapeNul}), and each half of a
 * UTF-16 surrogate pair standing alone U+FFFD, as text columns store it (JSON writes it `\udXXX`,
 * which jsonb refuses too). The patterns are literals here, so each call has its own.
 */
function jsonbText(text: string): string {
  return wellFormed(escapeNul(text));
}

/** `text` with each half of a UTF-16 surrogate pair standing alone U+FFFD, which JSON would write `\udXXX`. */
export function wellFormed(text: string): string {
  if (!/[\ud800-\udfff]/.test(text)) return text;
  return text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

/**
 * `value` with every string and key as jsonb can hold it ({@link jsonbText}). JSON writes a NUL
 * `\u0000` and a lone surrogate `\udXXX`, which PostgreSQL's jsonb refuses: a value an agent, a
 * model or a submitter put one in could not be stored, and the run failed with the database's
 * refusal. What is hashed or signed before it is stored (provenance events, verdicts) is made
 * storable first, so the stored value is the one hashed. A NUL and a written `\0` read alike.
 */
export function storableValue<T>(value: T): T {
  if (typeof value === 'string') return jsonbText(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => storableValue(v)) as T;
  if (value === null || typeof value !== 'object') return value;
  const json = (value as { toJSON?: () => unknown }).toJSON;
  if (typeof json === 'function') return storableValue(json.call(value)) as T;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [jsonbText(k), storableValue(v)])) as T;
}

/** JSON's escapes for what {@link jsonbText} rewrites (a literal backslash before them only costs a walk). */
const REFUSED_ESCAPE = /\\u(0000|d[89a-f])/;

/** `value` as JSON a jsonb column can store: {@link storableValue} where it needs it (undefined as JSON.stringify gives it). */
export function storableJson(value: unknown): string | undefined {
  const json = JSON.stringify(value) as string | undefined;
  return json !== undefined && REFUSED_ESCAPE.test(json) ? JSON.stringify(storableValue(value)) : json;
}

/** `text`, or its first `max` characters and how many were cut (as-is when already clipped to `max`). */
export function clipText(text: string, max: number): string {
  if (text.length <= max + NOTE_ROOM) return text;
  return `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/** A refused operation as it is kept: every field a clipped string, whatever the sender put there. */
export function boundedViolation(v: PolicyViolation): PolicyViolation {
  return {
    op: clipText(String(v.op), 64),
    path: clipText(String(v.path), MAX_RECORDED_PATH),
    reason: clipText(String(v.reason), MAX_RECORDED_REASON),
  };
}

/**
 * At most `max` of `items`, each clipped to `maxLength`; a last line says how many more there
 * were, of `total` (by default all of `items`). A list bounded already is kept as it is.
 */
export function boundedList(items: readonly string[], max: number, maxLength: number, total = items.length): string[] {
  const alreadyBounded = items.length === max + 1 && items[max].startsWith('… and ');
  const kept = items.slice(0, max).map((item) => clipText(item, maxLength));
  if (alreadyBounded) return [...kept, items[max]];
  return total > max ? [...kept, `… and ${total - max} more`] : kept;
}

/**
 * `schema` for a list, checking its length before any element: zod checks every element first,
 * and a list of a million wrong elements took seconds and made a report of tens of megabytes.
 */
export function lengthFirst<T extends z.ZodTypeAny>(schema: T, max: number, message: string) {
  return z
    .unknown()
    .refine((v) => !Array.isArray(v) || v.length <= max, message)
    .pipe(schema);
}

/** Appends `violation` to a run's list, clipped, keeping the newest {@link MAX_KEPT_VIOLATIONS}. */
export function keepViolation(list: PolicyViolation[], violation: PolicyViolation): void {
  list.push(boundedViolation(violation));
  if (list.length > MAX_KEPT_VIOLATIONS) list.splice(0, list.length - MAX_KEPT_VIOLATIONS);
}

/** The first 50 of a list of agent-made paths (the caller keeps the count), each clipped. */
export function boundedPaths(paths: readonly string[]): string[] {
  return paths.slice(0, 50).map((p) => clipText(p, MAX_RECORDED_PATH));
}

/** A refused spec's problems as a task keeps them: the first 100, each clipped to 500 characters. */
export function boundedProblems(problems: readonly unknown[]): string[] {
  return boundedList(problems.map(String), 100, 500);
}
