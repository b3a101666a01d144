/**
 * A model names the tools it calls. One named after a member every object has (`toString`,
 * `constructor`, `__proto__`) passed the known-tool check, then dispatched nowhere: the TypeError
 * that followed was retried as the host's failure and counted against the agent's circuit, which
 * every tenant shares (found in review). It is an unknown tool, told to the model.
 */
import assert from 'node:assert/strict';
import type { FileTools } from '../../host/sandbox/file-tools';
import { executeToolCall } from '../../host/sandbox/tool-calls';
import type { WorkingSpec } from '../../domain/spec';

describe('tool calls a model names', () => {
  it("a tool named after an object's own members is an unknown tool, not the host's failure", async () => {
    for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf']) {
      const result = await executeToolCall({
        tools: {} as FileTools,
        runCommand: () => Promise.reject(new Error('no command runs')),
        input: {
          tenantId: 't',
          taskId: 'x',
          workspacePath: '/nowhere',
          spec: {} as WorkingSpec,
          name,
          arguments: '{}',
        },
      });
      assert.deepEqual(result, { ok: false, content: `error: unknown tool '${name}'` }, name);
    }
  });
});
