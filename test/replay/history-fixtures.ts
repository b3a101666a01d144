/**
 * Recorded workflow histories kept as fixtures: one JSON file per lifecycle path, grouped in
 * sets (`v1` = tasks left open by the first release that recorded them; later sets as the
 * workflow changes). Every set must keep replaying against the current workflow code.
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

/**
 * The paths set `set` (`v<n>`) must hold a history of. A set of another name (`upgrade-<from>-<to>`:
 * runs a deploy moved to new code mid-run) holds what it was recorded for.
 */
export function pathsRequiredIn(set: string): LifecyclePath[] {
  const version = /^v(\d+)$/.exec(set)?.[1];
  if (version === undefined) return [];
  return LIFECYCLE_PATHS.filter((p) => Number(version) >= (FIRST_SET[p] ?? 0));
}

/** A fixture as read back: the run's workflow id (the workflow checks it) and its history. */
export interface HistoryFixture {
  set: string;
  path: string;
  workflowId: string;
  history: History;
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

/** Writes `history` as `<dir>/<name>.json`. */
export function writeHistoryFixture(
  dir: string,
  name: LifecyclePath,
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
