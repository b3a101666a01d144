/**
 * The tools an `openai` agent is offered, as OpenAI function-calling definitions. They map one
 * to one onto the sandbox's file tools and `run_command`, so a model can do nothing the
 * sandbox does not check and record.
 */

/** Tool names the model may call. */
export const AGENT_TOOL_NAMES = [
  'list_files',
  'file_read',
  'file_write',
  'file_search_replace',
  'file_delete',
  'run_command',
] as const;
/** A tool name. */
export type AgentToolName = (typeof AGENT_TOOL_NAMES)[number];

const str = (description: string) => ({ type: 'string', description });

/** Definitions sent with every model request. */
export const AGENT_TOOLS = [
  tool(
    'list_files',
    'List files under a directory of the workspace (default: the root).',
    { path: str('directory, relative to the workspace') },
    [],
  ),
  tool('file_read', 'Read a file of the workspace.', { path: str('file path, relative to the workspace') }, ['path']),
  tool(
    'file_write',
    'Create or overwrite a file with the given content.',
    { path: str('file path'), content: str('the whole new content') },
    ['path', 'content'],
  ),
  tool(
    'file_search_replace',
    'Replace one exact occurrence of `search` in a file.',
    { path: str('file path'), search: str('text that occurs exactly once'), replace: str('replacement') },
    ['path', 'search', 'replace'],
  ),
  tool('file_delete', 'Delete a file.', { path: str('file path') }, ['path']),
  tool(
    'run_command',
    'Run a program (argv, no shell) in the workspace; no network.',
    { argv: { type: 'array', items: { type: 'string' }, description: 'program and arguments' } },
    ['argv'],
  ),
];

function tool(name: AgentToolName, description: string, properties: Record<string, unknown>, required: string[]) {
  return {
    type: 'function',
    function: { name, description, parameters: { type: 'object', properties, required, additionalProperties: false } },
  };
}
