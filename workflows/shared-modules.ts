/**
 * The modules every workflow shares rather than instantiating its own. The SDK's reusable V8
 * context gives each cached run its own copy of every module it imports, and Arbiter's domain
 * modules build their zod schemas and curve tables at load: about 0.9 MB a run, so 500 cached
 * runs outgrew a 512 MiB workflow heap. Listed in the bundle's `preloadModules`
 * (workers/workflow-bundle.ts), this module and everything it imports load once, before any
 * workflow, and are frozen. Only stateless modules may be here: a preloaded module's state
 * would be shared by every workflow and break their isolation.
 *
 * Frozen, what zod writes while parsing would throw: the lazy caches of an object schema
 * (`_cached`) and of an enum (`_cache`), filled on the first parse, and a regex check's
 * `lastIndex` (reset before each test). So before the SDK freezes them, every schema reachable
 * from these modules fills its cache, and every regex check hands out a fresh copy of its
 * pattern on each read.
 * test/workflows/shared-modules.test.ts checks both over everything the freeze reaches.
 */
import { ZodEnum, ZodNativeEnum, ZodObject, ZodString } from 'zod';
import * as activityIo from '../domain/activity-io';
import * as approval from '../domain/approval';
import * as bandit from '../domain/bandit';
import * as bounds from '../domain/bounds';
import * as candidates from '../domain/candidates';
import * as conversation from '../domain/conversation';
import * as errors from '../domain/errors';
import * as gateNames from '../domain/gate-names';
import * as lifecycle from '../domain/lifecycle';
import * as maintenance from '../domain/maintenance';
import * as policy from '../domain/policy';
import * as repoPolicy from '../domain/repo-policy';
import * as retryFeedback from '../domain/retry-feedback';
import * as routingContext from '../domain/routing-context';
import * as task from '../domain/task';
import * as taskLanguage from '../domain/task-language';
import * as taskSummary from '../domain/task-summary';
import * as verdict from '../domain/verdict';
import * as waiver from '../domain/waiver';
import * as watch from '../domain/watch';
import * as zodIssues from '../domain/zod-issues';
import * as temporalConfig from '../temporal-config';

/** Makes each regex check of `schema` read as a fresh copy of its pattern, whose `lastIndex` zod may set. */
function freshRegexes(schema: ZodString): void {
  for (const check of schema._def.checks) {
    if (check.kind !== 'regex') continue;
    const { source, flags } = check.regex;
    Object.defineProperty(check, 'regex', { get: () => new RegExp(source, flags), enumerable: true });
  }
}

/**
 * Prepares every zod schema reachable from `value` as the SDK's freeze walks it (every own
 * property, read as a property, since a re-export is a getter; functions' too) for the freeze.
 */
function prepareForFreeze(value: unknown, seen: Set<unknown>): void {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function') || seen.has(value)) return;
  seen.add(value);
  if (value instanceof ZodObject) value._getCached();
  if (value instanceof ZodEnum || value instanceof ZodNativeEnum) value.safeParse(''); // any string fills the cache
  if (value instanceof ZodString) freshRegexes(value);
  for (const key of Reflect.ownKeys(value)) {
    let property: unknown;
    try {
      property = (value as Record<PropertyKey, unknown>)[key];
    } catch {
      continue; // a getter that throws: the freeze cannot reach past it either
    }
    prepareForFreeze(property, seen);
  }
}

prepareForFreeze(
  [
    activityIo,
    approval,
    bandit,
    bounds,
    candidates,
    conversation,
    errors,
    gateNames,
    lifecycle,
    maintenance,
    policy,
    repoPolicy,
    retryFeedback,
    routingContext,
    task,
    taskLanguage,
    taskSummary,
    verdict,
    waiver,
    watch,
    zodIssues,
    temporalConfig,
  ],
  new Set(),
);

/**
 * Frames kept in a workflow's stack traces (V8's default is 10). The SDK takes a stack trace,
 * mapped through the bundle's source map, of every promise a workflow creates, for the Web UI's
 * stack trace query: at ten frames that was a third of the workflow thread's CPU under load, at
 * seven a good part of that is saved. The hook's own two frames leave five: a wait on an activity
 * or timer shows mostly the SDK's frames, the async steps above it show the workflow's. Set here,
 * in the preloaded module, because the SDK freezes `Error` after preloading.
 */
export const WORKFLOW_STACK_FRAMES = 7;
Error.stackTraceLimit = WORKFLOW_STACK_FRAMES;
