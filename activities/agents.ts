/**
 * `executeAgent`: runs the routed agent in the task workspace, always starting from the base
 * commit. Agents act only through the sandbox: the file tools (scope, protected paths, limits,
 * audit) and confined commands. The `scripted` kind applies a declared plan of such steps.
 */
import { Context, log } from '@temporalio/activity';
import { ExecuteAgentInput, type AgentRunResult } from '../domain/activity-io';
import { ScriptedConfigSchema, type ScriptedStep } from '../domain/agent';
import { AgentConfigError, AgentFailedError, FileToolError } from '../domain/errors';
import { policyFromSpec, type SandboxPolicy } from '../domain/sandbox';
import { getAgent } from '../db/agents';
import type { ActivityDeps } from './deps';
import { gitDirOf } from './git';
import { parseActivityInput } from './input';
import type { CommandRunner } from './sandbox/commands';
import type { FileTools } from './sandbox/file-tools';
import { resetWorkspace } from './workspace';

interface StepContext {
  agentId: string;
  call: { tenantId: string; taskId: string; workspacePath: string; policy: SandboxPolicy };
  tools: FileTools;
  runCommand: CommandRunner;
}

async function applyStep(ctx: StepContext, step: ScriptedStep): Promise<void> {
  const { call, tools } = ctx;
  if (step.op === 'write') await tools.fileWrite({ ...call, path: step.path, content: step.content });
  else if (step.op === 'replace') await tools.fileSearchReplace({ ...call, path: step.path, search: step.search, replace: step.replace });
  else if (step.op === 'delete') await tools.fileDelete({ ...call, path: step.path });
  else {
    const run = await ctx.runCommand({ ...call, argv: step.argv, timeoutMs: step.timeoutSeconds * 1000, purpose: 'agent', signal: Context.current().cancellationSignal });
    if (run.aborted) throw Context.current().cancellationSignal.reason ?? new Error('cancelled');
    if (run.exitCode !== 0) throw new AgentFailedError(ctx.agentId, `command '${step.argv.join(' ')}' failed: ${run.killedReason ?? `exit code ${run.exitCode}`}`);
  }
}

async function runScripted(ctx: StepContext, config: unknown): Promise<AgentRunResult> {
  const parsed = ScriptedConfigSchema.safeParse(config);
  if (!parsed.success) throw new AgentConfigError(ctx.agentId, parsed.error.issues.map((i) => i.message).join('; '));
  for (const [i, step] of parsed.data.steps.entries()) {
    Context.current().heartbeat({ step: i });
    try {
      await applyStep(ctx, step);
    } catch (err) {
      // A step the plan got wrong is the agent's fault, not infrastructure's.
      if (err instanceof FileToolError) throw new AgentFailedError(ctx.agentId, err.message);
      throw err;
    }
  }
  return { agentId: ctx.agentId, stepsApplied: parsed.data.steps.length, summary: `applied ${parsed.data.steps.length} scripted step(s)` };
}

/** Builds the `executeAgent` activity over the sandbox's file tools and command runner. */
export function createAgentActivities(deps: ActivityDeps, tools: FileTools, runCommand: CommandRunner) {
  return {
    async executeAgent(raw: ExecuteAgentInput): Promise<AgentRunResult> {
      const input = parseActivityInput(ExecuteAgentInput, raw);
      const agent = await getAgent(deps.db, input.agentId);
      // A retry (the worker died mid-plan) starts from the base commit again, never from half an edit.
      await resetWorkspace({ tree: input.workspacePath, gitDir: gitDirOf(input.workspacePath) }, input.baseCommit, deps.sandbox);
      log.info('agent starting', { agentId: agent.id, kind: agent.kind });
      if (agent.kind !== 'scripted') throw new AgentConfigError(agent.id, `kind '${agent.kind}' cannot run yet`);
      const call = { tenantId: input.tenantId, taskId: input.taskId, workspacePath: input.workspacePath, policy: policyFromSpec(input.spec) };
      const result = await runScripted({ agentId: agent.id, call, tools, runCommand }, agent.config);
      log.info('agent finished', { agentId: agent.id, steps: result.stepsApplied });
      return result;
    },
  };
}
