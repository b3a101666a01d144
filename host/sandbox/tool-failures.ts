/**
 * The file tools' failures of the agent's making. A tool works on the agent's tree on the host,
 * and what that tree makes the file system answer is the tool's failure, not the worker's.
 */
import { FileToolError } from '../../domain/errors';

/**
 * What the agent's own tree makes the file system answer (a file where a folder must go, a folder
 * where a file is, a name a link loop or its permissions make unreachable): its tool's failure,
 * which the model reads, not the host's. Thrown as they were, they were retried as the worker's
 * and the run ended as infrastructure, sparing the agent its FAIL. A full disk or an I/O error
 * stays the host's.
 */
const AGENT_FS_ERRORS = new Set([
  'EEXIST',
  'ENOENT',
  'ENOTDIR',
  'EISDIR',
  'ENAMETOOLONG',
  'ELOOP',
  'EACCES',
  'EPERM',
  'ENOTEMPTY',
  'EINVAL',
  'EFBIG',
  'EMLINK',
  'ETXTBSY',
]);

/** The names the model knows the tools by. */
const TOOL_NAMES: Record<string, string> = {
  fileRead: 'file_read',
  fileWrite: 'file_write',
  fileSearchReplace: 'file_search_replace',
  fileDelete: 'file_delete',
  listFiles: 'list_files',
};

/** `tools` with each one's file-system errors of the agent's making thrown as {@link FileToolError}. */
export function toolFailures<T extends Record<string, (call: never) => Promise<unknown>>>(tools: T): T {
  const wrapped = Object.entries(tools).map(([name, tool]) => [
    name,
    async (call: { path?: string }) => {
      try {
        return await (tool as (c: typeof call) => Promise<unknown>)(call);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (!code || !AGENT_FS_ERRORS.has(code)) throw err;
        throw new FileToolError(`${TOOL_NAMES[name] ?? name} '${call.path ?? '.'}' failed: ${code}`);
      }
    },
  ]);
  return Object.fromEntries(wrapped) as T;
}
