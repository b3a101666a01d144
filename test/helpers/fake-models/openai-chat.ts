/**
 * OpenAI chat completions as aider, opencode, mini-swe-agent and Arbiter's own `openai` kind
 * use it: `POST [/v1]/chat/completions`, streaming (`chat.completion.chunk` deltas, a usage
 * chunk when `stream_options.include_usage`, `[DONE]`) or not, with `tool_calls` and usage.
 * The turn is one plus the assistant messages already in `messages`.
 */
import { callId, inputJson, type OfferedTool, type ScriptedUsage } from './script';
import type { ProtocolModule } from './protocol';
import { openaiError } from './protocol';

function usageOf({ input, output, cache }: ScriptedUsage) {
  const prompt = input + (cache?.read ?? 0);
  return {
    prompt_tokens: prompt,
    completion_tokens: output,
    total_tokens: prompt + output,
    ...(cache ? { prompt_tokens_details: { cached_tokens: cache.read } } : {}),
  };
}

/** The chat-completions module. */
export const openaiChat: ProtocolModule = {
  protocol: 'openai-chat',
  matches: (method, path) => method === 'POST' && /^\/(v1\/)?chat\/completions$/.test(path),
  turnOf: (body) =>
    1 + ((body.messages as Array<{ role?: string }> | undefined) ?? []).filter((m) => m.role === 'assistant').length,
  tools: (body) =>
    ((body.tools as Array<{ type?: string; function?: { name?: string } }> | undefined) ?? []).map(
      (t): OfferedTool => ({ name: String(t.function?.name), type: t.type ?? 'function' }),
    ),
  respond(out, { model, turn, reply, usage, stream, body }) {
    const calls = (reply.toolCalls ?? []).map((c, i) => ({
      id: callId('call', turn, i, c),
      type: 'function',
      function: { name: c.name, arguments: inputJson(c) },
    }));
    const content = reply.text ?? (calls.length ? null : 'Done.');
    const finish = calls.length ? 'tool_calls' : 'stop';
    const head = { id: `chatcmpl-fake-${turn}`, created: 1_700_000_000 + turn, model };
    if (!stream) {
      out.json(200, {
        ...head,
        object: 'chat.completion',
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content, ...(calls.length ? { tool_calls: calls } : {}) },
            finish_reason: finish,
          },
        ],
        usage: usageOf(usage),
      });
      return;
    }
    const sse = out.sse();
    const chunk = (delta: unknown, finish_reason: string | null = null) =>
      sse.event(undefined, { ...head, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason }] });
    chunk({ role: 'assistant', content: '' });
    if (content) chunk({ content });
    calls.forEach((c, index) => {
      chunk({
        tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.function.name, arguments: '' } }],
      });
      chunk({ tool_calls: [{ index, function: { arguments: c.function.arguments } }] });
    });
    chunk({}, finish);
    const options = body.stream_options as { include_usage?: boolean } | undefined;
    if (options?.include_usage)
      sse.event(undefined, { ...head, object: 'chat.completion.chunk', choices: [], usage: usageOf(usage) });
    sse.raw('[DONE]');
    sse.end();
  },
  error: openaiError,
};
