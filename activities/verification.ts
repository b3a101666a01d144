/**
 * Verification: the real diff against the base commit, budget and scope checked against the
 * spec, and each gate command run in the workspace. Every result is persisted as evidence.
 */
import { Context, log } from '@temporalio/activity';
import picomatch from 'picomatch';
import {
  CheckBudgetAndScopeInput,
  MeasureDiffInput,
  RunGateInput,
  type DiffSummary,
} from '../domain/activity-io';
import { effectiveBudget } from '../domain/policy';
import type { RepoPolicy } from '../domain/repo-policy';
import { applyGateMode } from '../domain/verdict';
import type { WorkingSpec } from '../domain/spec';
import type { GateResult } from '../domain/task';
import { and, eq, gt, inArray } from 'drizzle-orm';
import type { Db } from '../db/client';
import { gateResults, waivers } from '../db/schema';
import { storeArtifact } from './artifacts';
import type { ActivityDeps } from './deps';
import { changedFiles, patchBytes, snapshotTree, type FileChange } from './diff';
import { gitDirOf } from './git';
import { parseActivityInput } from './input';
import type { CommandRunner } from './sandbox/commands';

/** Names every changed path outside `scope.in` or inside `scope.out`. */
export function scopeViolations(spec: WorkingSpec, paths: string[]): string[] {
  const opts = { dot: true };
  const inScope = spec.scope.in.length ? picomatch(spec.scope.in, opts) : () => false;
  const outOfScope = spec.scope.out.length ? picomatch(spec.scope.out, opts) : () => false;
  return paths.flatMap((p) => {
    if (outOfScope(p)) return [`${p} (matches scope.out)`];
    if (!inScope(p)) return [`${p} (not in scope.in)`];
    return [];
  });
}

/** Active, unexpired waivers the spec names (`waiver_ids`): their deltas raise the budget. */
async function specWaivers(db: Db, tenantId: string, ids: string[]): Promise<Array<{ id: string; maxFiles: number; maxLoc: number }>> {
  if (ids.length === 0) return [];
  const rows = await db.select().from(waivers).where(and(eq(waivers.tenantId, tenantId), inArray(waivers.id, ids), eq(waivers.status, 'active'), gt(waivers.expiresAt, new Date())));
  return rows.map((r) => {
    const d = r.delta as { max_files?: number; max_loc?: number };
    return { id: r.id, maxFiles: d.max_files ?? 0, maxLoc: d.max_loc ?? 0 };
  });
}

function specGate(warnings: string[], policy: RepoPolicy): GateResult {
  if (policy.gateModes.spec === 'skip') return { name: 'spec', kind: 'spec', status: 'skipped', detail: 'skipped by the repository policy' };
  const detail = warnings.length ? `valid, with ${warnings.length} warning(s): ${warnings.join('; ')}`.slice(0, 2000) : 'valid and complete';
  // Validation already rejected invalid specs; what remains are warnings, which never block.
  return { name: 'spec', kind: 'spec', status: warnings.length ? 'warn' : 'pass', detail };
}

function budgetGate(spec: WorkingSpec, files: FileChange[], policy: RepoPolicy, granted: Array<{ id: string; maxFiles: number; maxLoc: number }>): GateResult {
  const base = effectiveBudget({ spec, tierBudgets: policy.tiers });
  const budget = granted.reduce((b, w) => ({ ...b, maxFiles: b.maxFiles + w.maxFiles, maxLoc: b.maxLoc + w.maxLoc }), base);
  const lines = files.reduce((n, f) => n + f.added + f.deleted, 0);
  const ok = files.length <= budget.maxFiles && lines <= budget.maxLoc;
  const from = budget.source === 'spec' ? 'spec' : `tier ${spec.riskTier}, ${policy.source} policy`;
  const waived = granted.length ? `, raised by waiver(s) ${granted.map((w) => w.id).join(', ')}` : '';
  const detail = `${files.length}/${budget.maxFiles} files, ${lines}/${budget.maxLoc} lines (budget from ${from}${waived})`;
  return { name: 'budget', kind: 'budget', status: applyGateMode(ok, policy.gateModes.budget), detail };
}

function scopeGate(spec: WorkingSpec, files: FileChange[], policy: RepoPolicy): GateResult {
  const mode = policy.gateModes.scope;
  if (spec.scope.in.length === 0 && files.length > 0) {
    return { name: 'scope', kind: 'scope', status: applyGateMode(false, mode), detail: 'scope.in has no enforceable path globs; cannot confirm any change is in scope' };
  }
  const violations = scopeViolations(spec, files.map((f) => f.path));
  const detail = violations.length ? `out of scope: ${violations.join(', ')}` : `${files.length} changed path(s) within scope`;
  return { name: 'scope', kind: 'scope', status: applyGateMode(violations.length === 0, mode), detail };
}

/** Builds `measureDiff`, `checkBudgetAndScope` and `runGate`. */
export function createVerificationActivities({ db }: ActivityDeps, runCommand: CommandRunner) {
  async function saveGate(tenantId: string, taskId: string, gate: GateResult): Promise<GateResult> {
    const row = { tenantId, taskId, ...gate, exitCode: gate.exitCode ?? null };
    await db
      .insert(gateResults)
      .values(row)
      .onConflictDoUpdate({ target: [gateResults.tenantId, gateResults.taskId, gateResults.name], set: row });
    return gate;
  }

  return {
    async measureDiff(raw: MeasureDiffInput): Promise<DiffSummary> {
      const input = parseActivityInput(MeasureDiffInput, raw);
      const ws = { tree: input.workspacePath, gitDir: gitDirOf(input.workspacePath) };
      const treeId = await snapshotTree(ws);
      const files = await changedFiles(ws, input.baseCommit, treeId);
      const artifactId = `${input.tenantId}/${input.taskId}/patch`;
      const bytes = await patchBytes(ws, input.baseCommit, treeId);
      const digest = await storeArtifact(db, { id: artifactId, tenantId: input.tenantId, taskId: input.taskId, kind: 'patch', bytes });
      return {
        filesChanged: files.length,
        linesAdded: files.reduce((n, f) => n + f.added, 0),
        linesDeleted: files.reduce((n, f) => n + f.deleted, 0),
        treeId,
        digest,
        artifactId,
      };
    },

    async checkBudgetAndScope(raw: CheckBudgetAndScopeInput): Promise<GateResult[]> {
      const input = parseActivityInput(CheckBudgetAndScopeInput, raw);
      const ws = { tree: input.workspacePath, gitDir: gitDirOf(input.workspacePath) };
      const files = await changedFiles(ws, input.baseCommit, input.treeId);
      const granted = await specWaivers(db, input.tenantId, input.spec.waiverIds);
      const gates = [budgetGate(input.spec, files, input.policy, granted), scopeGate(input.spec, files, input.policy), specGate(input.specWarnings, input.policy)];
      for (const gate of gates) await saveGate(input.tenantId, input.taskId, gate);
      return gates;
    },

    async runGate(raw: RunGateInput): Promise<GateResult> {
      const input = parseActivityInput(RunGateInput, raw);
      if (input.mode === 'skip') {
        const skipped: GateResult = { name: input.gate.name, kind: 'command', status: 'skipped', detail: 'skipped by the repository policy' };
        return saveGate(input.tenantId, input.taskId, skipped);
      }
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), 1000);
      try {
        // Gates are the task's own commands (a shell is fine) but run on agent-written code: confined like any other.
        const run = await runCommand({
          tenantId: input.tenantId,
          taskId: input.taskId,
          workspacePath: input.workspacePath,
          argv: input.gate.argv,
          policy: { allowShell: true },
          timeoutMs: input.gate.timeoutSeconds * 1000,
          purpose: 'gate',
          signal: ctx.cancellationSignal,
        });
        if (run.aborted) throw ctx.cancellationSignal.reason ?? new Error('gate aborted');
        const ok = run.exitCode === 0 && !run.killedReason;
        const why = run.spawnError ?? run.killedReason ?? `exit code ${run.exitCode}`;
        const gate: GateResult = {
          name: input.gate.name,
          kind: 'command',
          status: applyGateMode(ok, input.mode),
          detail: `${input.gate.argv.join(' ')}: ${why}`,
          exitCode: run.exitCode,
          durationMs: run.durationMs,
          outputDigest: run.outputDigest,
          outputTail: run.outputTail.slice(-2000),
        };
        log.info('gate finished', { gate: gate.name, status: gate.status, exitCode: run.exitCode });
        return await saveGate(input.tenantId, input.taskId, gate);
      } finally {
        clearInterval(beat);
      }
    },
  };
}
