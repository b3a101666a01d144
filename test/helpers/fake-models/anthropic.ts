/**
 * The Anthropic Messages API as Claude Code uses it: `POST /v1/messages`, streaming (SSE) or
 * not, with `tool_use` content blocks and usage. The turn is one plus the assistant messages
 * already in `messages`.
 */
import { callId, inputJson, type OfferedTool, type ScriptedReply, type ScriptedUsage } from './script';
import type { ProtocolModule, Sse } from './protocol';

interface Block {
  type: 'text' | 'tool_use';
  text?: string;
  id?: string;
  name?: string;
  input?: unknown;
}

function blocks(turn: number, reply: ScriptedReply): Block[] {
  const out: Block[] = [];
  if (reply.text !== undefined || !reply.toolCalls?.length) out.push({ type: 'text', text: reply.text ?? 'Done.' });
  (reply.toolCalls ?? []).forEach((c, i) =>
    out.push({ type: 'tool_use', id: callId('toolu', turn, i, c), name: c.name, input: JSON.parse(inputJson(c)) }),
  );
  return out;
}

function usageOf({ input, output, cache = { read: 0, write5m: 0, write1h: 0 } }: ScriptedUsage) {
  return {
    input_tokens: input,
    output_tokens: output,
    cache_creation_input_tokens: cache.write5m + cache.write1h,
    cache_read_input_tokens: cache.read,
    cache_creation: { ephemeral_5m_input_tokens: cache.write5m, ephemeral_1h_input_tokens: cache.write1h },
  };
}

function message(model: string, turn: number, content: Block[], stop: string | null, usage: ScriptedUsage) {
  return {
    id: `msg_fake_${turn}`,
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: stop,
    stop_sequence: null,
    usage: usageOf(usage),
  };
}

function streamBlock(sse: Sse, index: number, block: Block): void {
  if (block.type === 'text') {
    sse.event('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
    sse.event('content_block_delta', {
      type: 'content_block_delta',
      index,
      delta: { type: 'text_delta', text: block.text },
    });
  } else {
    sse.event('content_block_start', {
      type: 'content_block_start',
      index,
      content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
    });
    const json = JSON.stringify(block.input);
    // Two fragments, as the real API splits partial JSON: clients must join them.
    const half = Math.floor(json.length / 2);
    for (const part of [json.slice(0, half), json.slice(half)])
      sse.event('content_block_delta', {
        type: 'content_block_delta',
        index,
        delta: { type: 'input_json_delta', partial_json: part },
      });
  }
  sse.event('content_block_stop', { type: 'content_block_stop', index });
}

/** The Messages API module. */
export const anthropicMessages: ProtocolModule = {
  protocol: 'anthropic-messages',
  matches: (method, path) => method === 'POST' && /^\/(v1\/)?messages$/.test(path),
  turnOf: (body) =>
    1 + ((body.messages as Array<{ role?: string }> | undefined) ?? []).filter((m) => m.role === 'assistant').length,
  tools: (body) =>
    ((body.tools as Array<{ name?: string; type?: string }> | undefined) ?? []).map((t): OfferedTool => ({
      name: String(t.name),
      type: t.type ?? 'custom',
    })),
  respond(out, { model, turn, reply, usage, stream }) {
    const content = blocks(turn, reply);
    const stop = reply.toolCalls?.length ? 'tool_use' : 'end_turn';
    if (!stream) {
      out.json(200, message(model, turn, content, stop, usage));
      return;
    }
    const sse = out.sse();
    const start = message(model, turn, [], null, { ...usage, output: 1 });
    sse.event('message_start', { type: 'message_start', message: start });
    content.forEach((b, i) => streamBlock(sse, i, b));
    sse.event('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: stop, stop_sequence: null },
      usage: { output_tokens: usage.output },
    });
    sse.event('message_stop', { type: 'message_stop' });
    sse.end();
  },
  error: (status, message) => ({
    type: 'error',
    error: { type: status === 401 ? 'authentication_error' : 'api_error', message },
  }),
};
