/**
 * Inputs of the sandbox activities an agent drives: the file tools and `runCommand`. Each call
 * names its task, workspace and policy, so any worker holding the workspace can serve it and
 * every call is checked and audited the same way.
 */
import { z } from 'zod';
import { SandboxPolicySchema } from './sandbox';
import { IdPartSchema } from './task';

const Call = { tenantId: IdPartSchema, taskId: IdPartSchema, workspacePath: z.string(), policy: SandboxPolicySchema };
const RelPath = z.string().min(1).max(4096);

/** `file_read`: up to `maxBytes` of a file. */
export const FileReadInput = z.object({ ...Call, path: RelPath, maxBytes: z.number().int().positive().max(4 * 1024 * 1024).optional() });
/** Input of `fileRead`. */
export type FileReadInput = z.input<typeof FileReadInput>;

/** `file_write`: the whole new content of a file. */
export const FileWriteInput = z.object({ ...Call, path: RelPath, content: z.string() });
/** Input of `fileWrite`. */
export type FileWriteInput = z.input<typeof FileWriteInput>;

/** `file_search_replace`: `search` must occur exactly once. */
export const FileSearchReplaceInput = z.object({ ...Call, path: RelPath, search: z.string().min(1), replace: z.string() });
/** Input of `fileSearchReplace`. */
export type FileSearchReplaceInput = z.input<typeof FileSearchReplaceInput>;

/** `file_delete`: one regular file. */
export const FileDeleteInput = z.object({ ...Call, path: RelPath });
/** Input of `fileDelete`. */
export type FileDeleteInput = z.input<typeof FileDeleteInput>;

/** `list_files`: a directory tree, breadth first, up to `maxEntries`. */
export const ListFilesInput = z.object({ ...Call, path: RelPath.optional(), maxEntries: z.number().int().positive().max(100_000).optional() });
/** Input of `listFiles`. */
export type ListFilesInput = z.input<typeof ListFilesInput>;

/** `run_command`: argv (no shell unless the policy allows one) with a wall-clock timeout. */
export const RunCommandInput = z.object({ ...Call, argv: z.array(z.string().min(1)).min(1), timeoutSeconds: z.number().int().positive().max(3600).default(300) });
/** Input of `runCommand`. */
export type RunCommandInput = z.input<typeof RunCommandInput>;
