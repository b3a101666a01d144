/**
 * `executeAgent`: runs the routed agent in the task workspace. The `scripted` kind applies a
 * declared plan of edits through the same path checks every agent write goes through.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { Context, log } from '@temporalio/activity';
import { ExecuteAgentInput, type AgentRunResult } from '../domain/activity-io';
import { ScriptedConfigSchema, type ScriptedStep } from '../domain/agent';
import { AgentConfigError, AgentFailedError } from '../domain/errors';
import { getAgent } from '../db/agents';
import type { ActivityDeps } from './deps';
import { gitDirOf } from './git';
import { resolveInWorkspace } from './workspace-paths';
import { resetWorkspace } from './workspace';
import { parseActivityInput } from './input';

async function applyStep(agentId: string, workspace: string, step: ScriptedStep): Promise<void> {
  const target = await resolveInWorkspace(workspace, step.path);
  if (step.op === 'write') {
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.writeFile(target, step.content);
    return;
  }
  const existing = await fs.readFile(target, 'utf8').catch(() => undefined);
  if (existing === undefined) throw new AgentFailedError(agentId, `cannot ${step.op} '${step.path}': file does not exist`);
  if (step.op === 'delete') {
    await fs.rm(target);
    return;
  }
  const matches = existing.split(step.search).length - 1;
  if (matches !== 1)
    throw new AgentFailedError(agentId, `replace in '${step.path}' needs exactly one match of the search text, found ${matches}`);
  await fs.writeFile(target, existing.replace(step.search, () => step.replace));
}

async function runScripted(agentId: string, config: unknown, workspace: string): Promise<AgentRunResult> {
  const parsed = ScriptedConfigSchema.safeParse(config);
  if (!parsed.success) throw new AgentConfigError(agentId, parsed.error.issues.map((i) => i.message).join('; '));
  for (const [i, step] of parsed.data.steps.entries()) {
    Context.current().heartbeat({ step: i });
    await applyStep(agentId, workspace, step);
  }
  return { agentId, stepsApplied: parsed.data.steps.length, summary: `applied ${parsed.data.steps.length} scripted step(s)` };
}

/** Builds the `executeAgent` activity. */
export function createAgentActivities({ db }: ActivityDeps) {
  return {
    async executeAgent(raw: ExecuteAgentInput): Promise<AgentRunResult> {
      const input = parseActivityInput(ExecuteAgentInput, raw);
      const agent = await getAgent(db, input.agentId);
      // A retry (the worker died mid-plan) starts from the base commit again, never from half an edit.
      await resetWorkspace({ tree: input.workspacePath, gitDir: gitDirOf(input.workspacePath) }, input.baseCommit);
      log.info('agent starting', { agentId: agent.id, kind: agent.kind });
      if (agent.kind !== 'scripted') throw new AgentConfigError(agent.id, `kind '${agent.kind}' cannot run yet`);
      const result = await runScripted(agent.id, agent.config, input.workspacePath);
      log.info('agent finished', { agentId: agent.id, steps: result.stepsApplied });
      return result;
    },
  };
}
