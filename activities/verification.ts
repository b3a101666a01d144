/**
 * Verification: the agent's change pinned as a tree and measured from objects alone, and
 * Arbiter's own gates over it (budget, scope, spec, protected paths, tree), persisted as
 * evidence. Command gates run in gates.ts, on a fresh checkout of the same tree.
 */
import { approverKeys, claimWaiverUse, getWaiver } from '../db/waivers';
import { storedApprovalsProblem } from '../domain/approval-evidence';
import { boundedPaths } from '../domain/bounds';
import { requiredApprovers } from '../domain/policy';
import { waiverUseProblem } from '../domain/waiver';
import {
  CheckBudgetAndScopeInput,
  MeasureDiffInput,
  taskSpecArtifactId,
  type DiffSummary,
} from '../domain/activity-io';
import {
  budgetGate,
  protectedGate,
  scopeGate,
  specGate,
  treeGate,
  type BaseDrift,
  type GrantedWaiver,
} from '../domain/change-gates';
import { RecordMismatchError } from '../domain/errors';
import type { GateResult } from '../domain/task';
import type { RepoPolicy } from '../domain/repo-policy';
import type { WorkingSpec } from '../domain/spec';
import type { Db } from '../db/client';
import { saveGateResults, type GateAttempt } from '../db/gate-results';
import { storePatch, treeMeasurement } from '../db/artifacts';
import type { RunKey } from '../db/run-policies';
import type { ActivityDeps } from './deps';
import { changedFiles, decodePath, differingPaths, treeEntries, type FileChange } from '../host/diff';
import { gitDirOf, objectGit } from '../host/git';
import { readWorkspace } from '../host/measure';
import { requireTaskWorkspaceAt } from '../host/workspace';
import { parseActivityInput } from './input';
import { judgingPolicy } from './repo-policy';
import { currentRun } from './run-identity';
import { requireOwnTask } from './task-ended';
import { isSpecRef, runSpec, specContentDigest } from './spec-refs';
import { readBlobs } from '../host/tree-checkout';

/**
 * The waivers the spec names (`waiver_ids`) that may raise this run's budget, each claimed for
 * this run, and why each other one is refused: allowed by the policy (a waivers section), bound
 * to its spec, gate and one use (waiverUseProblem), and approved by signatures that still stand
 * (storedApprovalsProblem).
 */
async function specWaivers(
  db: Db,
  input: { tenantId: string; spec: WorkingSpec; policy: RepoPolicy; treeId: string },
  use: { specId: string; taskId: string; runId: string },
): Promise<{ granted: GrantedWaiver[]; refused: string[] }> {
  const granted: GrantedWaiver[] = [];
  const refused: string[] = [];
  const { tenantId, spec, policy } = input;
  if (spec.waiverIds.length === 0) return { granted, refused };
  if (!policy.waivers.enabled) {
    const why = "the repository's policy has no waivers section: a budget overrun fails";
    return { granted, refused: spec.waiverIds.map((id) => `${id}: ${why}`) };
  }
  const keyring = await approverKeys(db, tenantId);
  const required = requiredApprovers(spec.riskTier, policy.waivers.minApprovers);
  for (const id of spec.waiverIds) {
    const row = await getWaiver(db, tenantId, id);
    const delta = { maxFiles: row?.delta.max_files ?? 0, maxLoc: row?.delta.max_loc ?? 0 };
    const problem = row
      ? (waiverUseProblem(row, use, new Date()) ??
        storedApprovalsProblem(row.approvals, {
          tenantId,
          specId: spec.id,
          delta,
          riskTier: spec.riskTier,
          required,
          keyring,
          change: { taskId: use.taskId, runId: use.runId, treeId: input.treeId },
        }))
      : `${id} does not exist for tenant ${tenantId}`;
    if (problem) refused.push(problem.startsWith(id) ? problem : `${id}: ${problem}`);
    else if (!(await claimWaiverUse(db, tenantId, id, use))) refused.push(`${id} was just used by another run`);
    else granted.push({ id, ...delta });
  }
  return { granted, refused };
}

/** The tree's entries with each symlink's target read from its blob. */
async function treeItems(gitDir: string, treeId: string) {
  const entries = await treeEntries(gitDir, treeId);
  const links = entries.filter((e) => e.mode === '120000');
  const targets = await readBlobs(gitDir, links);
  return entries.map((e) => {
    const target = e.mode === '120000' ? decodePath(targets.get(e.oid) as Buffer) : undefined;
    return { mode: e.mode, path: e.path, target: target?.path, exact: e.validName && (target?.valid ?? true) };
  });
}

/**
 * Paths the base changed since it left the trusted ref's commit (none when it is that commit),
 * and where it still differs from that commit: what merging the base could change there. A
 * criss-cross history has several merge bases, git prints one, and a merge uses them all, so a
 * path changed since any of them counts; one where base and trusted agree no merge can change.
 * With them, the delivered branch's change to each, measured from the merge base that gives the
 * most to the judged tree (the agent's edits there included; a path the agent put back is none).
 */
async function baseDrift(
  gitDir: string,
  change: { baseCommit: string; treeId: string },
  trustedCommit: string,
): Promise<{ drift: BaseDrift; changes: FileChange[] }> {
  const { baseCommit, treeId } = change;
  if (baseCommit === trustedCommit) return { drift: [], changes: [] };
  try {
    const forkPoints = (await objectGit(gitDir, ['merge-base', '--all', baseCommit, trustedCommit]))
      .split('\n')
      .filter(Boolean);
    const differs = new Set(await differingPaths(gitDir, trustedCommit, baseCommit));
    const paths = new Set<string>();
    for (const fork of forkPoints)
      for (const p of await differingPaths(gitDir, fork, baseCommit)) if (differs.has(p)) paths.add(p);
    const changed = new Map<string, FileChange>();
    const size = (f: FileChange | undefined) => (f ? f.added + f.deleted + f.bytesAdded : -1);
    for (const fork of forkPoints)
      for (const f of await changedFiles(gitDir, fork, treeId))
        if (paths.has(f.path) && size(f) > size(changed.get(f.path))) changed.set(f.path, f);
    return { drift: [...paths], changes: [...changed.values()] };
  } catch {
    const unknown = `the base ${baseCommit} cannot be compared with the trusted ref's commit ${trustedCommit}`;
    return { drift: { unknown }, changes: [] };
  }
}

/**
 * What measuring the judged tree found beside it (ignored files left behind, nested repositories
 * kept out), as its newest measurement stored it: handed over, an insider's own workflow code gave
 * none, and the tree gate passed a change whose nested repository it refuses. A measurement stored
 * before these were kept leaves them to the caller, as before.
 */
async function measuredFacts(
  db: Db,
  input: RunKey & Pick<CheckBudgetAndScopeInput, 'leftBehind' | 'nestedRepositories'> & MeasuredChange,
): Promise<{ leftBehind: { count: number; paths: string[] }; nestedRepositories: string[] }> {
  const measured = await treeMeasurement(db, input, input);
  if (!measured)
    throw new RecordMismatchError(
      'tree',
      `task ${input.taskId} measured no tree ${input.treeId} from ${input.baseCommit}`,
    );
  const stats = measured.stats;
  return {
    leftBehind: stats?.leftBehind ?? input.leftBehind ?? { count: 0, paths: [] },
    nestedRepositories: stats?.nestedRepositories ?? input.nestedRepositories ?? [],
  };
}

/** The change a tree gate judges: which tree, from which base. */
type MeasuredChange = { treeId: string; baseCommit: string };

/** Builds `measureDiff` and `checkBudgetAndScope`. */
export function createVerificationActivities({ db, home, sandbox }: ActivityDeps) {
  /** Records `gates` of one attempt, for the tree they judged (and the base Arbiter's gates measured it from), as this run's. */
  async function saveGates(at: Omit<GateAttempt, 'runId'>, gates: GateResult[]): Promise<GateResult[]> {
    await saveGateResults(db, { ...at, runId: currentRun().runId }, gates);
    return gates;
  }

  return {
    async measureDiff(raw: MeasureDiffInput): Promise<DiffSummary> {
      const input = parseActivityInput(MeasureDiffInput, raw);
      await requireOwnTask(db, input, currentRun(), { open: true });
      await requireTaskWorkspaceAt(home, input);
      const ws = { tree: input.workspacePath, gitDir: gitDirOf(input.workspacePath) };
      const read = await readWorkspace(ws, input.baseCommit, { maxEntries: sandbox.limits.workspaceEntries });
      const { nested, treeId, files, patch: bytes, ignored, ignoredNested } = read;
      const { runId } = currentRun();
      const change = { treeId, baseCommit: input.baseCommit };
      const stats = {
        filesChanged: files.length,
        linesAdded: files.reduce((n, f) => n + f.added, 0),
        linesDeleted: files.reduce((n, f) => n + f.deleted, 0),
        bytesAdded: files.reduce((n, f) => n + f.bytesAdded, 0),
        binaryFiles: files.filter((f) => f.binary).length,
      };
      const facts = {
        leftBehind: { count: ignored.length, paths: boundedPaths(ignored) },
        nestedRepositories: boundedPaths(nested.filter((d) => !ignoredNested.has(d))),
      };
      const measured = { ...stats, ...facts };
      const { artifactId, digest } = await storePatch(db, { ...input, runId, bytes, change, stats: measured });
      return { ...measured, treeId, digest, artifactId };
    },

    async checkBudgetAndScope(raw: CheckBudgetAndScopeInput): Promise<GateResult[]> {
      const parsed = parseActivityInput(CheckBudgetAndScopeInput, raw);
      const run = currentRun();
      await requireOwnTask(db, parsed, run, { open: true });
      const { runId } = run;
      const spec = await runSpec(db, parsed);
      const read = await judgingPolicy(db, { ...parsed, runId });
      const validatedRef = taskSpecArtifactId({ ...parsed, runId });
      if (read !== 'legacy' && (!isSpecRef(parsed.spec) || parsed.spec.artifactId !== validatedRef))
        throw new RecordMismatchError('spec', `only the spec this run validated (${validatedRef}) is judged by`);
      const { policy, commit } =
        read === 'legacy'
          ? { policy: parsed.policy, commit: parsed.trustedCommit }
          : { policy: read.policy, commit: read.provenance.commit };
      const input = { ...parsed, spec, policy };
      await requireTaskWorkspaceAt(home, input);
      const facts = await measuredFacts(db, { ...input, runId });
      const gitDir = gitDirOf(input.workspacePath);
      const files = await changedFiles(gitDir, input.baseCommit, input.treeId);
      const use = { specId: input.spec.id, taskId: input.taskId, runId };
      const waivers = await specWaivers(db, input, use);
      const { drift, changes } = await baseDrift(gitDir, input, commit);
      const items = await treeItems(gitDir, input.treeId);
      const links = items.filter((i) => i.mode === '120000');
      const base = { paths: 'unknown' in drift ? [] : drift, changes };
      const gates = [
        budgetGate(input.spec, files, input.policy, waivers.granted, waivers.refused, base),
        scopeGate(input.spec, files, input.policy, drift, links),
        specGate(input.spec, input.specWarnings, input.policy),
        protectedGate(input.spec.riskTier, files, drift, input.policy, links),
        treeGate(items, files, input.policy, facts.leftBehind, facts.nestedRepositories),
      ];
      return saveGates({ ...input, specDigest: specContentDigest(spec) }, gates);
    },
  };
}
