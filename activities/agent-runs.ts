/**
 * `executeAgent`: runs the routed agent in the task workspace, always starting from the base
 * commit. Agents act only through the sandbox: the file tools (scope, protected paths, limits,
 * audit) and confined commands. The `scripted` kind applies a declared plan of such steps.
 */
import { Context, log } from '@temporalio/activity';
import { ExecuteAgentInput, type AgentRunResult } from '../domain/activity-io';
import { CommandConfigSchema, ScriptedConfigSchema, type ScriptedStep } from '../domain/agent';
import { literalSecretProblems } from '../domain/literal-secrets';
import { buildRetryPrompt, buildTaskPrompt } from '../domain/prompt';
import { AgentConfigError, AgentFailedError, FileToolError, WorkspaceBaseMismatchError } from '../domain/errors';
import { zodProblems } from '../domain/zod-issues';
import { policyFromSpec, type SandboxPolicy } from '../domain/sandbox';
import { getAgent } from '../db/agents';
import { measuredTree } from '../db/artifacts';
import type { Db } from '../db/client';
import type { ActivityDeps } from './deps';
import { beatAtStart, cancellable, type CancellableRunner } from './heartbeat';
import { gitDirOf } from '../host/git';
import { parseActivityInput } from './input';
import type { CommandRunner } from '../host/sandbox/commands';
import type { FileTools } from '../host/sandbox/file-tools';
import { takeFreshCheckout } from '../host/fresh-checkout';
import { requireTaskWorkspaceAt, resetWorkspace, taskSandboxUser } from '../host/workspace';
import { dependenciesDirOf } from '../host/sandbox/dependency-mounts';
import { agentLaunch } from './agent-gateway';
import { requireActiveAgent, requireRoutedAgent } from './routed-agent';
import { requireOwnTask } from './task-ended';
import { currentRun } from './run-identity';
import { requireTaskSpec, runSpec } from './spec-refs';

interface StepContext {
  agentId: string;
  call: { tenantId: string; taskId: string; workspacePath: string; policy: SandboxPolicy; dependencies: string };
  tools: FileTools;
  runCommand: CancellableRunner;
}

async function applyStep(ctx: StepContext, step: ScriptedStep): Promise<void> {
  const { call, tools } = ctx;
  if (step.op === 'write') await tools.fileWrite({ ...call, path: step.path, content: step.content });
  else if (step.op === 'replace')
    await tools.fileSearchReplace({ ...call, path: step.path, search: step.search, replace: step.replace });
  else if (step.op === 'delete') await tools.fileDelete({ ...call, path: step.path });
  else {
    const run = await ctx.runCommand({
      ...call,
      argv: step.argv,
      timeoutMs: step.timeoutSeconds * 1000,
      purpose: 'agent',
    });
    if (run.exitCode !== 0)
      throw new AgentFailedError(
        ctx.agentId,
        `command '${step.argv.join(' ')}' failed: ${run.killedReason ?? `exit code ${run.exitCode}`}: ${run.outputTail.slice(-300)}`,
      );
  }
}

async function runScripted(ctx: StepContext, config: unknown, retry: boolean): Promise<AgentRunResult> {
  const parsed = ScriptedConfigSchema.safeParse(config);
  if (!parsed.success)
    throw new AgentConfigError(ctx.agentId, zodProblems(parsed.error, { prefix: 'config' }).join('; '));
  const steps = (retry && parsed.data.retrySteps) || parsed.data.steps;
  for (const step of steps) {
    try {
      await applyStep(ctx, step);
    } catch (err) {
      // A step the plan got wrong is the agent's fault, not infrastructure's.
      if (err instanceof FileToolError) throw new AgentFailedError(ctx.agentId, err.message);
      throw err;
    }
  }
  return { agentId: ctx.agentId, stepsApplied: steps.length, summary: `applied ${steps.length} scripted step(s)` };
}

/**
 * Where the agent's wall clock starts, told to the server at once in the attempt's first beat:
 * where the workflow says its earlier attempts leave it, or now; for a later attempt of this step
 * (its worker died) where the attempt before said, on the same host's clock. Tokens and cost carry
 * over from the run's earlier sessions; without this the wall-clock budget began afresh with each
 * attempt. A start in the future, which only an insider's own workflow code could send, would
 * lengthen the budget, so none later than now is taken.
 */
function startAgentClock(claimed: number | undefined): number {
  const earlier = (Context.current().info.heartbeatDetails as { clockStart?: unknown } | undefined)?.clockStart;
  const clockStart = Math.min(Date.now(), claimed ?? Infinity, typeof earlier === 'number' ? earlier : Infinity);
  beatAtStart({ clockStart });
  return clockStart;
}

/** Runs a `command` agent: its CLI, confined, behind the gateway, with the task prompt; its changes are read from the diff later. */
async function runCommandAgent(
  ctx: StepContext,
  deps: ActivityDeps,
  config: unknown,
  prompt: string,
  startedAt: number,
): Promise<AgentRunResult> {
  const parsed = CommandConfigSchema.safeParse(config);
  if (!parsed.success)
    throw new AgentConfigError(ctx.agentId, zodProblems(parsed.error, { prefix: 'config' }).join('; '));
  const c = parsed.data;
  const identity = { ...ctx.call, runId: currentRun().runId, agentId: ctx.agentId, purpose: 'agent' as const };
  const launch = await agentLaunch(deps, identity, c, startedAt);
  let run: Awaited<ReturnType<CancellableRunner>>;
  try {
    run = await ctx.runCommand({
      ...ctx.call,
      argv: c.promptVia === 'arg' ? c.argv.map((a) => a.split('{prompt}').join(prompt)) : c.argv,
      stdin: c.promptVia === 'stdin' ? prompt : undefined,
      env: { ...launch.env, ...(c.promptVia === 'env' ? { ARBITER_PROMPT: prompt } : {}) },
      // The operator configured this command line; it may use a shell, still confined.
      policy: { allowShell: true },
      timeoutMs: c.timeoutSeconds * 1000,
      purpose: 'agent',
      gateway: launch.link,
    });
  } finally {
    await launch.finish();
  }
  if (run.spawnError) throw new AgentConfigError(ctx.agentId, `cannot start ${c.argv[0]}: ${run.spawnError}`);
  if (run.exitCode !== 0)
    throw new AgentFailedError(
      ctx.agentId,
      `${c.argv[0]} ${run.killedReason ?? `exited with ${run.exitCode}`}: ${run.outputTail.slice(-500)}`,
    );
  return { agentId: ctx.agentId, stepsApplied: 1, summary: `${c.argv[0]} finished in ${run.durationMs} ms` };
}

/**
 * Refuses a retry's start other than a change the task measured from the workspace's base: every
 * object of the target is in the workspace's store, and an agent started from another commit's
 * tree would have that commit's difference measured as its change.
 */
async function requireMeasuredStart(
  db: Db,
  input: { tenantId: string; taskId: string; baseCommit: string; retry?: { fromTree?: string } },
): Promise<void> {
  const fromTree = input.retry?.fromTree;
  if (fromTree && !(await measuredTree(db, input, { treeId: fromTree, baseCommit: input.baseCommit })))
    throw new WorkspaceBaseMismatchError(`tree ${fromTree} is no change the task measured from ${input.baseCommit}`);
}

/** Builds the `executeAgent` activity over the sandbox's file tools and command runner. */
export function createAgentActivities(deps: ActivityDeps, tools: FileTools, runCommand: CommandRunner) {
  const sandboxUser = taskSandboxUser(deps.home, deps.sandbox);
  return {
    async executeAgent(raw: ExecuteAgentInput): Promise<AgentRunResult> {
      const input = parseActivityInput(ExecuteAgentInput, raw);
      const clockStart = startAgentClock(input.retry?.startedAt);
      const spec = await runSpec(deps.db, input);
      await requireTaskSpec(deps.db, { ...input, runId: currentRun().runId }, spec);
      await requireTaskWorkspaceAt(deps.home, input);
      await requireRoutedAgent(deps.db, input);
      await requireOwnTask(deps.db, input, currentRun(), { open: true });
      await requireMeasuredStart(deps.db, input);
      const agent = await getAgent(deps.db, input.agentId);
      requireActiveAgent(agent);
      // Refused at registration since; an agent registered before is refused here, before its workspace is touched.
      const literal = literalSecretProblems(agent.config);
      if (literal.length) throw new AgentConfigError(agent.id, literal.join('; '));
      // A retried activity (the worker died mid-plan) starts again from the base commit, or from the
      // change an earlier attempt left, never from half an edit; a checkout nothing touched yet is kept.
      const { retry } = input;
      const ws = { tree: input.workspacePath, gitDir: gitDirOf(input.workspacePath) };
      const from = retry?.fromTree ?? input.baseCommit;
      if (!(await takeFreshCheckout(ws.tree, from))) await resetWorkspace(ws, from, await sandboxUser(input));
      log.info('agent starting', { agentId: agent.id, kind: agent.kind, attempt: retry?.attempt ?? 1 });
      const call = {
        tenantId: input.tenantId,
        taskId: input.taskId,
        workspacePath: input.workspacePath,
        policy: policyFromSpec(spec),
        dependencies: dependenciesDirOf(input.workspacePath),
      };
      const ctx = { agentId: agent.id, call, tools, runCommand: cancellable(runCommand) };
      let result: AgentRunResult;
      if (agent.kind === 'scripted') result = await runScripted(ctx, agent.config, retry !== undefined);
      else if (agent.kind === 'command') {
        const prompt = retry ? buildRetryPrompt(spec, retry.feedback) : buildTaskPrompt(spec);
        result = await runCommandAgent(ctx, deps, agent.config, prompt, clockStart);
      } else
        throw new AgentConfigError(agent.id, `kind '${agent.kind}' runs as a conversation, not through executeAgent`);
      log.info('agent finished', { agentId: agent.id, steps: result.stepsApplied });
      return result;
    },
  };
}
