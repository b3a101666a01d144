/**
 * Recorded workflow histories kept as fixtures: one JSON file per lifecycle path, grouped in
 * sets (`v1` = tasks left open by the first release that recorded them; later sets as the
 * workflow changes). From `v9` on, a set also holds every run of the child workflows those paths
 * started (`<path>.child-<k>.run-<r>.json`): an open task's children replay through the deployed
 * code as its own run does. Every set must keep replaying against the current workflow code.
 *
 * Stored as protobufjs's JSON form of the History message (`History.toObject`: int64 and bytes
 * as strings, enums by name) and read back with `History.fromObject`. The SDK's
 * `historyToJSON`/`historyFromJSON` would write the `temporal workflow show` format, but in this
 * install they throw "type must be a Type" (@temporalio/common and @temporalio/proto each carry
 * their own protobufjs copy).
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { temporal } from '@temporalio/proto';
import { projectRoot } from '../../client/paths';

/** Every path through `taskLifecycle` a fixture set must hold a history of. */
export const LIFECYCLE_PATHS = [
  'completed',
  'rejected',
  'failed',
  'waived',
  'waiver-expired',
  'cancelled',
  'host-lost',
  'openai-conversation',
  'retried',
  'best-of-n',
] as const;

/** One of {@link LIFECYCLE_PATHS}. */
export type LifecyclePath = (typeof LIFECYCLE_PATHS)[number];

/** Paths the workflow gained later, and the first set that holds each: sets recorded before could not. */
const FIRST_SET: Partial<Record<LifecyclePath, number>> = { retried: 5, 'best-of-n': 6 };

/** The first set that holds the runs of its paths' child workflows: earlier sets hold the task's own runs only. */
const FIRST_SET_WITH_CHILDREN = 9;

/** The `n` of set `v<n>`; undefined for a set of another name. */
function versionOf(set: string): number | undefined {
  const version = /^v(\d+)$/.exec(set)?.[1];
  return version === undefined ? undefined : Number(version);
}

/**
 * The paths set `set` (`v<n>`) must hold a history of. A set of another name (`upgrade-<from>-<to>`:
 * runs a deploy moved to new code mid-run) holds what it was recorded for.
 */
export function pathsRequiredIn(set: string): LifecyclePath[] {
  const version = versionOf(set);
  if (version === undefined) return [];
  return LIFECYCLE_PATHS.filter((p) => version >= (FIRST_SET[p] ?? 0));
}

/**
 * A fixture as read back: its name (`path`: a lifecycle path, or a {@link childFixtureName}), the
 * run's workflow id (the workflow checks it) and its history.
 */
export interface HistoryFixture {
  set: string;
  path: string;
  workflowId: string;
  history: History;
}

/** What a path's recorded children must include for their replay to cover the child workflow. */
interface ChildRuns {
  workflowType: string;
  /** At least this many runs, each continued-as-new run counted. */
  runs: number;
  /** One run continued as new into another: a resumed run commands differently from a first one. */
  continuedAsNew?: boolean;
}

/** The children of the paths that start some: the openai conversation, best of N's candidates. */
const CHILD_RUNS: Partial<Record<LifecyclePath, ChildRuns>> = {
  'openai-conversation': { workflowType: 'agentConversation', runs: 2, continuedAsNew: true },
  'best-of-n': { workflowType: 'taskLifecycle', runs: 2 },
};

/**
 * A child run's fixture name: its parent's, then which child (`k`-th the parent started) and
 * which run of it (`r`-th of its chain of continued-as-new runs), so the set lists them together.
 */
export function childFixtureName(parent: string, child: number, run: number): string {
  return `${parent}.child-${child}.run-${run}`;
}

/** The workflow type a history ran: a child's fixture may be either of Arbiter's workflows. */
export function workflowTypeOf(history: History): string | undefined {
  return history.events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? undefined;
}

/**
 * What set `set` lacks of its paths' child runs, one line each (none before {@link
 * FIRST_SET_WITH_CHILDREN}): without them a change to a child workflow would replay nothing.
 */
export function missingChildRuns(set: string, fixtures: HistoryFixture[]): string[] {
  if ((versionOf(set) ?? 0) < FIRST_SET_WITH_CHILDREN) return [];
  return pathsRequiredIn(set).flatMap((parent) => {
    const wanted = CHILD_RUNS[parent];
    return wanted ? missingRunsOf(parent, wanted, fixtures) : [];
  });
}

/** What `fixtures` lack of the child runs `wanted` of path `parent`. */
function missingRunsOf(parent: LifecyclePath, wanted: ChildRuns, fixtures: HistoryFixture[]): string[] {
  const { workflowType } = wanted;
  const runs = fixtures
    .filter((f) => f.path.startsWith(`${parent}.child-`) && workflowTypeOf(f.history) === workflowType)
    .map((f) => f.history);
  const missing =
    runs.length < wanted.runs ? [`${parent}: ${runs.length} ${workflowType} run(s) of ${wanted.runs}`] : [];
  if (wanted.continuedAsNew && !continuedWithin(runs))
    missing.push(`${parent}: no ${workflowType} run that continued as new into another`);
  return missing;
}

/** Whether one of `runs` ended continuing as new into another of them. */
function continuedWithin(runs: History[]): boolean {
  const ids = new Set(runs.map((h) => h.events[0]?.workflowExecutionStartedEventAttributes?.originalExecutionRunId));
  return runs.some((h) => {
    const next = h.events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
    return typeof next === 'string' && ids.has(next);
  });
}

type History = temporal.api.history.v1.History;
const HistoryMessage = temporal.api.history.v1.History;
const JSON_FORM = { longs: String, enums: String, bytes: String };

/** Where the committed sets live: `test/fixtures/histories/<set>/<path>.json`. */
export function historiesRoot(): string {
  return path.join(projectRoot(), 'test', 'fixtures', 'histories');
}

/** The folder the recorder writes to: ARBITER_HISTORIES_DIR, else the `current` set. */
export function recordingDir(): string {
  return path.resolve(process.env.ARBITER_HISTORIES_DIR ?? path.join(historiesRoot(), 'current'));
}

/** Writes `history` as `<dir>/<name>.json` (`name`: a lifecycle path, or a {@link childFixtureName}). */
export function writeHistoryFixture(
  dir: string,
  name: string,
  workflowId: string,
  history: temporal.api.history.v1.IHistory,
): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  const body = {
    path: name,
    workflowId,
    history: HistoryMessage.toObject(HistoryMessage.fromObject(history), JSON_FORM),
  };
  writeFileSync(file, `${JSON.stringify(body, null, 1)}\n`);
  return file;
}

/** The names of the committed sets. */
export function fixtureSets(root = historiesRoot()): string[] {
  return readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

/** Every fixture of one set, by path name. */
export function readFixtureSet(set: string, root = historiesRoot()): HistoryFixture[] {
  const dir = path.join(root, set);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const raw = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as { workflowId: string; history: object };
      const history = HistoryMessage.fromObject(raw.history);
      return { set, path: path.basename(f, '.json'), workflowId: raw.workflowId, history };
    });
}
