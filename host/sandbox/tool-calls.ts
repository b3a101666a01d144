/**
 * Executes one model tool call through the sandbox. A refusal or a tool error is an answer the
 * model should see ("error: …") and can recover from, not a failure of the activity; only
 * infrastructure errors propagate (and are retried).
 */
import { lengthFirst } from '../../domain/bounds';
import { dependenciesDirOf } from './dependency-mounts';
import { zodProblems } from '../../domain/zod-issues';
import { z } from 'zod';
import { FileToolError, PolicyViolationError } from '../../domain/errors';
import { policyFromSpec, type PolicyViolation } from '../../domain/sandbox';
import type { WorkingSpec } from '../../domain/spec';
import type { CommandRequest, CommandResult } from './commands';
import type { FileTools } from './file-tools';
import { escapeNul } from '../../domain/bounds';

const Args = {
  list_files: z.object({ path: z.string().optional() }),
  file_read: z.object({ path: z.string() }),
  file_write: z.object({ path: z.string(), content: z.string() }),
  file_search_replace: z.object({ path: z.string(), search: z.string(), replace: z.string() }),
  file_delete: z.object({ path: z.string() }),
  run_command: z.object({
    argv: lengthFirst(z.array(z.string()).min(1), 1024, 'argv must be a list of at most 1024 arguments'),
  }),
};

const MAX_RESULT = 16 * 1024;

/** What to run and with what. */
export interface ToolCallContext {
  tools: FileTools;
  /** Runs a confined command for the calling activity (heartbeating, stopped when it is cancelled). */
  runCommand: (req: Omit<CommandRequest, 'signal'>) => Promise<CommandResult>;
  /** The call as the model made it (read from the transcript), and the spec whose policy confines it. */
  input: {
    tenantId: string;
    taskId: string;
    workspacePath: string;
    spec: WorkingSpec;
    name: string;
    arguments: string;
  };
  /** What the agent's wall-clock limit leaves: a command is stopped by then (five minutes at most). */
  timeLeftMs?: number;
}

/** A model's command runs at most this long. */
const COMMAND_TIMEOUT_MS = 300_000;

async function dispatch(ctx: ToolCallContext, name: keyof typeof Args, args: unknown): Promise<string> {
  const { input, tools } = ctx;
  const call = {
    tenantId: input.tenantId,
    taskId: input.taskId,
    workspacePath: input.workspacePath,
    policy: policyFromSpec(input.spec),
  };
  switch (name) {
    case 'list_files': {
      const r = await tools.listFiles({ ...call, ...Args.list_files.parse(args) });
      return (
        r.entries.map((e) => `${e.type === 'dir' ? 'd' : '-'} ${e.path}`).join('\n') +
        (r.truncated ? '\n… (truncated)' : '')
      );
    }
    case 'file_read':
      return (await tools.fileRead({ ...call, ...Args.file_read.parse(args) })).content;
    case 'file_write':
      return `wrote ${(await tools.fileWrite({ ...call, ...Args.file_write.parse(args) })).bytes} bytes`;
    case 'file_search_replace':
      return `replaced in ${(await tools.fileSearchReplace({ ...call, ...Args.file_search_replace.parse(args) })).path}`;
    case 'file_delete':
      return `deleted ${(await tools.fileDelete({ ...call, ...Args.file_delete.parse(args) })).path}`;
    case 'run_command': {
      const run = await ctx.runCommand({
        ...call,
        ...Args.run_command.parse(args),
        policy: call.policy,
        timeoutMs: Math.max(1, Math.min(COMMAND_TIMEOUT_MS, Math.ceil(ctx.timeLeftMs ?? COMMAND_TIMEOUT_MS))),
        purpose: 'agent',
        dependencies: dependenciesDirOf(input.workspacePath),
      });
      return `exit ${run.exitCode ?? run.signal}${run.killedReason ? ` (killed: ${run.killedReason})` : ''}\n${run.outputTail}`;
    }
  }
}

/** Runs the call; returns the text the model gets back. */
export async function executeToolCall(
  ctx: ToolCallContext,
): Promise<{ ok: boolean; content: string; violation?: PolicyViolation }> {
  const result = await toolResult(ctx);
  // What the model reads is stored, and PostgreSQL cannot store NUL: a result is escaped once, here.
  return { ...result, content: escapeNul(result.content) };
}

async function toolResult(
  ctx: ToolCallContext,
): Promise<{ ok: boolean; content: string; violation?: PolicyViolation }> {
  const name = ctx.input.name;
  // Own names only: `toString` or `constructor` is in every object, and dispatching one threw as the host's failure.
  if (!Object.hasOwn(Args, name)) return { ok: false, content: `error: unknown tool '${name}'` };
  let args: unknown;
  try {
    args = JSON.parse(ctx.input.arguments || '{}');
  } catch {
    return { ok: false, content: `error: arguments are not valid JSON` };
  }
  try {
    return { ok: true, content: (await dispatch(ctx, name as keyof typeof Args, args)).slice(0, MAX_RESULT) };
  } catch (err) {
    if (err instanceof PolicyViolationError)
      return { ok: false, content: `error: ${err.message}`, violation: err.violation };
    if (err instanceof FileToolError) return { ok: false, content: `error: ${err.message}` };
    if (err instanceof z.ZodError)
      return { ok: false, content: `error: bad arguments: ${zodProblems(err).join('; ')}`.slice(0, MAX_RESULT) };
    throw err;
  }
}
