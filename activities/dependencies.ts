/**
 * `installDependencies`: the repository policy's setup, run once per workspace at the base
 * commit, confined like any command, with the network limited to the policy's registries
 * through the gateway (every request audited). Its outputs are moved beside the tree, where
 * commands see them only as read-only mounts; everything else it changed is discarded, so
 * setup can neither edit the change nor leave files the agent could pass off as its own.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { log } from '@temporalio/activity';
import { InstallDependenciesInput } from '../domain/activity-io';
import { canonicalJson } from '../domain/canonical';
import { PolicyMismatchError, SetupFailedError } from '../domain/errors';
import type { Db } from '../db/client';
import type { RunKey } from '../db/run-policies';
import { gitDirOf } from '../host/git';
import { removeTree } from '../host/remove-tree';
import { dependenciesDirOf, SETUP_MARKER } from '../host/sandbox/dependency-mounts';
import type { CommandRunner } from '../host/sandbox/commands';
import { handToSandboxUser, requireTaskWorkspaceAt, resetWorkspace, taskSandboxUser } from '../host/workspace';
import type { SandboxUser } from '../host/sandbox/uid-leases';
import type { ActivityDeps } from './deps';
import { cancellable } from './heartbeat';
import { parseActivityInput } from './input';
import { judgingPolicy } from './repo-policy';
import { currentRun } from './run-identity';
import { requireOwnTask } from './task-ended';

/** What was installed, for the record. */
export interface InstalledDependencies {
  outputs: string[];
  reused: boolean;
}

/**
 * Refuses a setup other than the policy's: every gate runs with what setup installs mounted, so a
 * setup of someone's own choosing (a test runner that always exits 0) would pass the policy's gates.
 */
async function requirePolicySetup(db: Db, run: RunKey, setup: InstallDependenciesInput['setup']): Promise<void> {
  const read = await judgingPolicy(db, run);
  if (read === 'legacy' || canonicalJson(read.policy.setup ?? null) === canonicalJson(setup)) return;
  throw new PolicyMismatchError(`setup ${JSON.stringify(setup.argv)} is not the policy's setup`);
}

/**
 * Puts the tree back to the base it was built from (checked before: an insider's step could name
 * any commit of the target, one whose lockfile it wrote): setup never runs on files an agent
 * wrote, whatever ran in the workspace before it.
 */
async function atPreparedBase(deps: ActivityDeps, input: InstallDependenciesInput): Promise<SandboxUser> {
  const ws = { tree: input.workspacePath, gitDir: gitDirOf(input.workspacePath) };
  const user = await taskSandboxUser(deps.home, deps.sandbox)(input);
  await resetWorkspace(ws, input.baseCommit, user);
  return user;
}

/** Builds `installDependencies`. */
export function createDependencyActivities(deps: ActivityDeps, runCommand: CommandRunner) {
  return {
    async installDependencies(raw: InstallDependenciesInput): Promise<InstalledDependencies> {
      const input = parseActivityInput(InstallDependenciesInput, raw);
      const { setup } = input;
      const caller = currentRun();
      const { runId } = caller;
      await requireOwnTask(deps.db, input, caller, { open: true });
      await requirePolicySetup(deps.db, { ...input, runId }, setup);
      await requireTaskWorkspaceAt(deps.home, input);
      const depsDir = dependenciesDirOf(input.workspacePath);
      const marker = path.join(depsDir, SETUP_MARKER);
      const stamp = createHash('sha256')
        .update(JSON.stringify([input.baseCommit, setup]))
        .digest('hex');
      if (existsSync(marker) && JSON.parse(readFileSync(marker, 'utf8')).stamp === stamp)
        return { outputs: setup.outputs, reused: true };
      if (!deps.gateway) throw new SetupFailedError('this worker runs no model gateway to carry its registry traffic');
      const user = await atPreparedBase(deps, input);
      await removeTree(depsDir);
      const identity = { ...input, runId, agentId: 'setup', purpose: 'setup' as const };
      const session = await deps.gateway.openSession(identity, {
        upstreams: [],
        registries: setup.registries,
        budgets: {},
      });
      const run = await cancellable(runCommand)({
        tenantId: input.tenantId,
        taskId: input.taskId,
        workspacePath: input.workspacePath,
        argv: setup.argv,
        policy: { allowShell: true },
        timeoutMs: setup.timeoutSeconds * 1000,
        purpose: 'setup',
        gateway: { socketPath: deps.gateway.socketPath, session },
      }).finally(() => deps.gateway?.closeSession(session.id));
      if (run.exitCode !== 0 || run.killedReason)
        throw new SetupFailedError(
          `${setup.argv.join(' ')}: ${run.spawnError ?? run.killedReason ?? `exit code ${run.exitCode}`}: ${run.outputTail.slice(-800)}`,
        );
      await fs.mkdir(depsDir, { recursive: true });
      for (const name of setup.outputs) {
        const made = path.join(input.workspacePath, name);
        const st = await fs.lstat(made).catch(() => undefined);
        if (!st?.isDirectory())
          throw new SetupFailedError(`${setup.argv.join(' ')} did not produce the folder ${name}`);
        await fs.rename(made, path.join(depsDir, name));
      }
      await handToSandboxUser(depsDir, user); // the task's alone, like its tree; mounted read-only for its commands
      await resetWorkspace(
        { tree: input.workspacePath, gitDir: gitDirOf(input.workspacePath) },
        input.baseCommit,
        user,
      );
      await fs.writeFile(marker, JSON.stringify({ stamp, outputs: setup.outputs }));
      log.info('dependencies installed', { outputs: setup.outputs, durationMs: run.durationMs });
      return { outputs: setup.outputs, reused: false };
    },
  };
}
