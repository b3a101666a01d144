/**
 * The sandbox as activities: each file tool and `runCommand` is its own activity, so an agent's
 * every tool call is durable, retried on infrastructure failure and visible in history. They
 * run on the host queue of the worker holding the workspace.
 */
import { Context } from '@temporalio/activity';
import {
  FileDeleteInput,
  FileReadInput,
  FileSearchReplaceInput,
  FileWriteInput,
  ListFilesInput,
  RunCommandInput,
} from '../../domain/sandbox-io';
import { parseActivityInput } from '../input';
import type { CommandRunner } from './commands';
import type { FileTools } from './file-tools';

/** Builds the sandbox activities over the file tools and command runner. */
export function createSandboxActivities(tools: FileTools, runCommand: CommandRunner) {
  return {
    fileRead: (raw: FileReadInput) => tools.fileRead(parseActivityInput(FileReadInput, raw)),
    fileWrite: (raw: FileWriteInput) => tools.fileWrite(parseActivityInput(FileWriteInput, raw)),
    fileSearchReplace: (raw: FileSearchReplaceInput) => tools.fileSearchReplace(parseActivityInput(FileSearchReplaceInput, raw)),
    fileDelete: (raw: FileDeleteInput) => tools.fileDelete(parseActivityInput(FileDeleteInput, raw)),
    listFiles: (raw: ListFilesInput) => tools.listFiles(parseActivityInput(ListFilesInput, raw)),

    async runCommand(raw: RunCommandInput) {
      const input = parseActivityInput(RunCommandInput, raw);
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), 1000);
      try {
        const run = await runCommand({ ...input, timeoutMs: input.timeoutSeconds * 1000, purpose: 'agent', signal: ctx.cancellationSignal });
        if (run.aborted) throw ctx.cancellationSignal.reason ?? new Error('cancelled');
        return run;
      } finally {
        clearInterval(beat);
      }
    },
  };
}
