/**
 * Verification: the agent's change pinned as a tree and measured from objects alone, Arbiter's
 * own gates over it, and each command gate run on a fresh checkout of exactly that tree — never
 * in the agent's workspace, so nothing the agent left outside the tree can sway a gate. Every
 * result is persisted as evidence.
 */
import { inSpan } from '../host/tracing';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { log } from '@temporalio/activity';
import { approverKeys, claimWaiverUse, getWaiver } from '../db/waivers';
import { storedApprovalsProblem } from '../domain/approval-evidence';
import { boundedPaths, clipText } from '../domain/bounds';
import { requiredApprovers } from '../domain/policy';
import { waiverUseProblem } from '../domain/waiver';
import {
  CheckBudgetAndScopeInput,
  MeasureDiffInput,
  RunGateInput,
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
import { applyGateMode } from '../domain/verdict';
import { PolicyMismatchError, RecordMismatchError } from '../domain/errors';
import { gateRunProblem } from '../domain/policy-gates';
import type { GateResult } from '../domain/task';
import type { RepoPolicy } from '../domain/repo-policy';
import type { WorkingSpec } from '../domain/spec';
import type { Db } from '../db/client';
import { saveGateResults, standingFailure } from '../db/gate-results';
import { runsThatRead, type RunKey } from '../db/run-policies';
import { storePatch } from '../db/artifacts';
import type { ActivityDeps } from './deps';
import {
  changedFiles,
  decodePath,
  differingPaths,
  ignoredAmong,
  ignoredPaths,
  measureChange,
  measureDeadline,
  overrunAsViolation,
  snapshotTree,
  treeEntries,
} from '../host/diff';
import { gitDirOf, objectGit, requireTaskWorkspace, type WorkspaceDirs } from '../host/git';
import { removeTree } from '../host/remove-tree';
import { gateCheckoutDir, nestedRepositories } from '../host/tree-walk';
import { underGateClaim } from './gate-claim';
import type { z } from 'zod';
import { cancellable } from './heartbeat';
import { parseActivityInput } from './input';
import { judgingPolicy, type JudgingPolicy } from './repo-policy';
import { currentRun } from './run-identity';
import { isSpecRef, runSpec } from './spec-refs';
import type { CommandRunner } from '../host/sandbox/commands';
import { checkoutTree, readBlobs } from '../host/tree-checkout';
import { dependenciesDirOf } from '../host/sandbox/dependency-mounts';
import { handToSandboxUser, taskSandboxUser } from '../host/workspace';

/**
 * The waivers the spec names (`waiver_ids`) that may raise this run's budget, each claimed for
 * this run, and why each other one is refused: allowed by the policy (a waivers section), bound
 * to its spec, gate and one use (waiverUseProblem), and approved by signatures that still stand
 * (storedApprovalsProblem).
 */
async function specWaivers(
  db: Db,
  input: { tenantId: string; spec: WorkingSpec; policy: RepoPolicy },
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
        }))
      : `${id} does not exist for tenant ${tenantId}`;
    if (problem) refused.push(problem.startsWith(id) ? problem : `${id}: ${problem}`);
    else if (!(await claimWaiverUse(db, tenantId, id, use))) refused.push(`${id} was just used by another run`);
    else granted.push({ id, ...delta });
  }
  return { granted, refused };
}

/**
 * The failed result that stands for a command gate already failed on this tree in this run or a
 * run that read the same policy file: run again, a flaky check would pass in the end (a retry after a
 * lost worker, the agent handing back the same change, an insider's reruns).
 */
async function failureThatStands(
  db: Db,
  at: RunKey & { treeId: string },
  gate: { gate: { name: string; argv: string[] }; source: GateResult['source'] },
  read: JudgingPolicy | 'legacy',
): Promise<GateResult | undefined> {
  const fromRuns = read === 'legacy' ? undefined : await runsThatRead(db, at, read.provenance, true);
  const failed = await standingFailure(db, at, at.treeId, gate.gate.name, fromRuns);
  if (!failed) return undefined;
  const stands = `failed on this change in attempt ${failed.attempt} of run ${failed.runId}; a failure stands, so the check is not run again`;
  return {
    name: gate.gate.name,
    kind: 'command',
    source: gate.source,
    argv: gate.gate.argv,
    status: 'fail',
    detail: clipText(`${stands}: ${failed.detail}`, 1000),
    exitCode: failed.exitCode ?? undefined,
    outputDigest: failed.outputDigest ?? undefined,
    outputTail: failed.outputTail ?? undefined,
  };
}

/** The tree's entries with each symlink's target read from its blob. */
async function treeItems(gitDir: string, treeId: string) {
  const entries = await treeEntries(gitDir, treeId);
  const links = entries.filter((e) => e.mode === '120000');
  const targets = await readBlobs(
    gitDir,
    links.map((e) => e.oid),
  );
  return entries.map((e) => {
    const target = e.mode === '120000' ? decodePath(targets.get(e.oid) as Buffer) : undefined;
    return { mode: e.mode, path: e.path, target: target?.path, exact: e.validName && (target?.valid ?? true) };
  });
}

/** Paths the base changed since it left the trusted ref's commit (none when it is that commit). */
async function baseDrift(gitDir: string, baseCommit: string, trustedCommit: string): Promise<BaseDrift> {
  if (baseCommit === trustedCommit) return [];
  try {
    const forkPoint = (await objectGit(gitDir, ['merge-base', baseCommit, trustedCommit])).trim();
    return await differingPaths(gitDir, forkPoint, baseCommit);
  } catch {
    return { unknown: `the base ${baseCommit} cannot be compared with the trusted ref's commit ${trustedCommit}` };
  }
}

/** `runGate`'s input, parsed. */
type RunGateRequest = z.output<typeof RunGateInput>;

/** Builds `measureDiff`, `checkBudgetAndScope` and `runGate`. */
export function createVerificationActivities({ db, home, sandbox }: ActivityDeps, runCommand: CommandRunner) {
  const sandboxUser = taskSandboxUser(home, sandbox);
  /** Records `gates` of one attempt, for the tree they judged (and the base Arbiter's gates measured it from), as this run's. */
  async function saveGates(
    at: { tenantId: string; taskId: string; attempt: number; treeId: string; baseCommit?: string },
    gates: GateResult[],
  ): Promise<GateResult[]> {
    await saveGateResults(db, { ...at, runId: currentRun().runId }, gates);
    return gates;
  }
  const saveGate = async (
    at: { tenantId: string; taskId: string; attempt: number; treeId: string },
    gate: GateResult,
  ) => (await saveGates(at, [gate]))[0];

  /** A fresh checkout of `treeId` for one gate, owned by the task's sandbox user (mode 0700); removed by the caller. */
  async function gateCheckout(
    task: { tenantId: string; taskId: string; workspacePath: string; treeId: string },
    gateName: string,
  ): Promise<string> {
    const user = await sandboxUser(task);
    const gitDir = gitDirOf(task.workspacePath);
    const dir = gateCheckoutDir(task.workspacePath, gateName);
    await removeTree(dir);
    await fs.mkdir(path.dirname(dir), { recursive: true, mode: 0o711 });
    await checkoutTree(gitDir, await treeEntries(gitDir, task.treeId), dir);
    await handToSandboxUser(dir, user);
    return dir;
  }

  /** The agent's tree (nested repositories left out), its change from the base, and what git ignores. */
  async function readWorkspace(ws: WorkspaceDirs, baseCommit: string, nested: string[]) {
    const deadline = measureDeadline();
    const treeId = await snapshotTree(ws, nested, deadline);
    const { files, patch: bytes } = await measureChange(ws.gitDir, baseCommit, treeId, deadline);
    const ignoredNested = await ignoredAmong(ws, nested, deadline);
    const ignored = [...(await ignoredPaths(ws, nested, deadline)), ...[...ignoredNested].map((d) => `${d}/`)];
    return { treeId, files, bytes, ignored, ignoredNested };
  }

  return {
    async measureDiff(raw: MeasureDiffInput): Promise<DiffSummary> {
      const input = parseActivityInput(MeasureDiffInput, raw);
      requireTaskWorkspace(home, input);
      const ws = { tree: input.workspacePath, gitDir: gitDirOf(input.workspacePath) };
      const nested = await nestedRepositories(ws.tree, { maxEntries: sandbox.limits.workspaceEntries });
      const { treeId, files, bytes, ignored, ignoredNested } = await readWorkspace(ws, input.baseCommit, nested).catch(
        (err: unknown) => {
          throw overrunAsViolation(err);
        },
      );
      const { runId } = currentRun();
      const { artifactId, digest } = await storePatch(db, { ...input, runId, bytes });
      return {
        filesChanged: files.length,
        linesAdded: files.reduce((n, f) => n + f.added, 0),
        linesDeleted: files.reduce((n, f) => n + f.deleted, 0),
        bytesAdded: files.reduce((n, f) => n + f.bytesAdded, 0),
        binaryFiles: files.filter((f) => f.binary).length,
        leftBehind: { count: ignored.length, paths: boundedPaths(ignored) },
        nestedRepositories: boundedPaths(nested.filter((d) => !ignoredNested.has(d))),
        treeId,
        digest,
        artifactId,
      };
    },

    async checkBudgetAndScope(raw: CheckBudgetAndScopeInput): Promise<GateResult[]> {
      const parsed = parseActivityInput(CheckBudgetAndScopeInput, raw);
      const { runId } = currentRun();
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
      requireTaskWorkspace(home, input);
      const gitDir = gitDirOf(input.workspacePath);
      const files = await changedFiles(gitDir, input.baseCommit, input.treeId);
      const use = { specId: input.spec.id, taskId: input.taskId, runId };
      const waivers = await specWaivers(db, input, use);
      const drift = await baseDrift(gitDir, input.baseCommit, commit);
      const items = await treeItems(gitDir, input.treeId);
      const links = items.filter((i) => i.mode === '120000');
      const gates = [
        budgetGate(input.spec, files, input.policy, waivers.granted, waivers.refused),
        scopeGate(input.spec, files, input.policy, drift),
        specGate(input.specWarnings, input.policy),
        protectedGate(input.spec.riskTier, files, drift, input.policy, links),
        treeGate(items, files, input.policy, input.leftBehind, input.nestedRepositories),
      ];
      return saveGates(input, gates);
    },

    async runGate(raw: RunGateInput): Promise<GateResult> {
      const input = parseActivityInput(RunGateInput, raw);
      const { gate, source } = input;
      const runKey = { ...input, runId: currentRun().runId };
      const read = await judgingPolicy(db, runKey);
      const problem = read === 'legacy' ? undefined : gateRunProblem(read.policy, input);
      if (problem) throw new PolicyMismatchError(problem);
      requireTaskWorkspace(home, input);
      if (input.mode === 'skip') {
        return saveGate(input, {
          name: gate.name,
          kind: 'command',
          source,
          argv: gate.argv,
          status: 'skipped',
          detail: 'skipped by the repository policy',
        });
      }
      const claim = { ...input, treeId: input.treeId, name: gate.name };
      return underGateClaim(db, claim, async () => {
        const stands = await failureThatStands(db, { ...runKey, treeId: input.treeId }, input, read);
        return stands ? saveGate(input, stands) : runCheck(input);
      });
    },
  };

  /** Runs a command gate on the verified tree, confined, and stores its result. */
  async function runCheck(input: RunGateRequest): Promise<GateResult> {
    const { gate, source } = input;
    const dir = await gateCheckout(input, gate.name);
    try {
      // Gates run agent-written code: confined like any other command, on the verified tree only.
      const gateSpan = { 'arbiter.gate': gate.name, 'arbiter.gate_source': source };
      const run = await inSpan('gate', gateSpan, async (span) => {
        const done = await cancellable(runCommand)({
          tenantId: input.tenantId,
          taskId: input.taskId,
          workspacePath: dir,
          argv: gate.argv,
          policy: { allowShell: true },
          timeoutMs: gate.timeoutSeconds * 1000,
          purpose: 'gate',
          dependencies: dependenciesDirOf(input.workspacePath),
        });
        span.setAttribute('process.exit.code', done.exitCode ?? -1);
        return done;
      });
      // bwrap not starting is the host's failure, not the check's, and a failure stands: retried, never
      // stored. Unconfined, the program is the agent's own, and its failing to start is the check's.
      if (run.spawnError && sandbox.mode === 'bwrap')
        throw new Error(`gate ${gate.name} could not be started: ${run.spawnError}`);
      const ok = run.exitCode === 0 && !run.killedReason;
      const why = run.spawnError ?? run.killedReason ?? `exit code ${run.exitCode}`;
      const result: GateResult = {
        name: gate.name,
        kind: 'command',
        source,
        argv: gate.argv,
        status: applyGateMode(ok, input.mode),
        detail: clipText(`${clipText(gate.argv.join(' '), 200)}: ${why}`, 1000),
        exitCode: run.exitCode,
        durationMs: run.durationMs,
        outputDigest: run.outputDigest,
        outputTail: run.outputTail.slice(-2000),
      };
      log.info('gate finished', { gate: gate.name, source, status: result.status, exitCode: run.exitCode });
      return await saveGate(input, result);
    } finally {
      await removeTree(dir);
    }
  }
}
