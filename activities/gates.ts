/**
 * Command gates: each check run on a fresh checkout of exactly the verified tree, never in the
 * agent's workspace, confined like any other command, one run of a check on a change at a time,
 * and its result stored as evidence. A failure stands: a check that failed on a change is not
 * run again but returns that failure.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { Context, log } from '@temporalio/activity';
import type { z } from 'zod';
import { RunGateInput } from '../domain/activity-io';
import { clipText } from '../domain/bounds';
import { PolicyMismatchError } from '../domain/errors';
import { gateRunProblem } from '../domain/policy-gates';
import type { GateResult } from '../domain/task';
import { applyGateMode } from '../domain/verdict';
import type { Db } from '../db/client';
import { saveGateResults, standingFailure, type GateAttempt } from '../db/gate-results';
import { runsThatRead, type RunKey } from '../db/run-policies';
import { treeEntries } from '../host/diff';
import { gitDirOf, requireTaskWorkspace } from '../host/git';
import { removeTree } from '../host/remove-tree';
import type { CommandRunner } from '../host/sandbox/commands';
import { dependenciesDirOf } from '../host/sandbox/dependency-mounts';
import { inSpan } from '../host/tracing';
import { checkoutTree } from '../host/tree-checkout';
import { gateCheckoutDir } from '../host/tree-walk';
import { handToSandboxUser, taskSandboxUser } from '../host/workspace';
import type { ActivityDeps } from './deps';
import { underGateClaim } from './gate-claim';
import { cancellationCause, stoppedOnRequest } from './heartbeat';
import { parseActivityInput } from './input';
import { judgingPolicy, type JudgingPolicy } from './repo-policy';
import { specContentDigest, validatedSpec } from './spec-refs';
import { currentRun } from './run-identity';
import { requireOwnTask } from './task-ended';

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

/** `runGate`'s input, parsed, with the digest of the spec that fixed it (an acceptance gate's). */
type RunGateRequest = z.output<typeof RunGateInput> & { specDigest?: string };

/** Builds `runGate`. */
export function createGateActivities({ db, home, sandbox, runIsOpen }: ActivityDeps, runCommand: CommandRunner) {
  const sandboxUser = taskSandboxUser(home, sandbox);
  /** Records one gate's result, for the tree it judged, as this run's. */
  async function saveGate(at: Omit<GateAttempt, 'runId'>, gate: GateResult): Promise<GateResult> {
    await saveGateResults(db, { ...at, runId: currentRun().runId }, [gate]);
    return gate;
  }

  /** Whether the current activity's run is still open (assumed so where no one can be asked). */
  const runStillOpen = (tenantId: string) => {
    const run = { tenantId, ...currentRun() };
    return () => (runIsOpen ? runIsOpen(run) : Promise.resolve(true));
  };

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

  return {
    async runGate(raw: RunGateInput): Promise<GateResult> {
      const parsed = parseActivityInput(RunGateInput, raw);
      const { gate, source } = parsed;
      const run = currentRun();
      await requireOwnTask(db, parsed, run, { open: true });
      const runKey = { ...parsed, runId: run.runId };
      const [read, spec] = await Promise.all([
        judgingPolicy(db, runKey),
        source === 'acceptance' ? validatedSpec(db, runKey) : undefined,
      ]);
      const problem = read === 'legacy' ? undefined : gateRunProblem(read.policy, parsed, spec);
      if (problem) throw new PolicyMismatchError(problem);
      if (source === 'acceptance' && !spec && read !== 'legacy')
        throw new PolicyMismatchError(`gate ${gate.name}: no run of the task validated a spec on a worker`);
      const input = { ...parsed, specDigest: spec && specContentDigest(spec) };
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

  /**
   * The cancellation that killed a check. Its workflow cancelling it, or its run ending, is the
   * check's failure on the change (a run of one's own could otherwise stop every slow run until
   * one passed fast); a worker shutting down stores nothing.
   */
  async function stoppedMidCheck(input: RunGateRequest): Promise<unknown> {
    const activity = Context.current();
    if (cancellationCause(activity) !== 'shutdown') {
      const { name, argv } = input.gate;
      const detail = `${clipText(argv.join(' '), 200)}: stopped before its end (cancelled, or its run ended); counts as a failure on this change`;
      await saveGate(input, {
        name,
        kind: 'command',
        source: input.source,
        argv,
        status: applyGateMode(false, input.mode),
        detail,
      });
    }
    return activity.cancellationSignal.reason ?? new Error('cancelled');
  }

  /** Runs a command gate on the verified tree, confined, and stores its result. */
  async function runCheck(input: RunGateRequest): Promise<GateResult> {
    const { gate, source } = input;
    const dir = await gateCheckout(input, gate.name);
    try {
      // Gates run agent-written code: confined like any other command, on the verified tree only.
      const gateSpan = { 'arbiter.gate': gate.name, 'arbiter.gate_source': source };
      const run = await inSpan('gate', gateSpan, async (span) => {
        const done = await stoppedOnRequest(
          runCommand,
          runStillOpen(input.tenantId),
        )({
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
      if (run.aborted) throw await stoppedMidCheck(input);
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
