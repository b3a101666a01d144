/**
 * The OpenAI Responses API as Codex CLI uses it: `POST [/v1]/responses`, streaming (SSE events
 * `response.created` … `response.output_item.done` … `response.completed` with usage) or not,
 * with `function_call` and `custom_tool_call` output items. Clients resend the whole history
 * in `input`; the turn is one plus the runs of model output items in it.
 */
import { callId, inputJson, type OfferedTool, type ScriptedReply, type ScriptedUsage } from './script';
import type { ProtocolModule, Sse } from './protocol';
import { openaiError } from './protocol';

const MODEL_ITEMS = new Set(['function_call', 'custom_tool_call', 'reasoning', 'local_shell_call', 'web_search_call']);

function isModelItem(item: { type?: string; role?: string }): boolean {
  return MODEL_ITEMS.has(item.type ?? '') || ((item.type ?? 'message') === 'message' && item.role === 'assistant');
}

function turnOf(body: Record<string, unknown>): number {
  const input = Array.isArray(body.input) ? (body.input as Array<{ type?: string; role?: string }>) : [];
  let runs = 0;
  let inRun = false;
  for (const item of input) {
    const model = isModelItem(item);
    if (model && !inRun) runs += 1;
    inRun = model;
  }
  return runs + 1;
}

type Item = Record<string, unknown> & { type: string; id: string };

function items(turn: number, reply: ScriptedReply): Item[] {
  const out: Item[] = [];
  if (reply.text !== undefined || !reply.toolCalls?.length)
    out.push({
      type: 'message',
      id: `msg_fake_${turn}`,
      status: 'completed',
      role: 'assistant',
      content: [{ type: 'output_text', text: reply.text ?? 'Done.', annotations: [] }],
    });
  (reply.toolCalls ?? []).forEach((c, i) => {
    const call_id = callId('call', turn, i, c);
    if (c.kind === 'custom')
      out.push({
        type: 'custom_tool_call',
        id: `ctc_fake_${turn}_${i}`,
        status: 'completed',
        call_id,
        name: c.name,
        input: typeof c.input === 'string' ? c.input : inputJson(c),
      });
    else
      out.push({
        type: 'function_call',
        id: `fc_fake_${turn}_${i}`,
        status: 'completed',
        call_id,
        name: c.name,
        arguments: inputJson(c),
      });
  });
  return out;
}

function response(model: string, turn: number, status: string, output: Item[], usage?: ScriptedUsage) {
  return {
    id: `resp_fake_${turn}`,
    object: 'response',
    created_at: 1_700_000_000 + turn,
    status,
    model,
    output,
    usage: usage
      ? {
          input_tokens: usage.input,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens: usage.output,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: usage.input + usage.output,
        }
      : null,
  };
}

function streamItem(sse: Sse, seq: () => number, index: number, item: Item): void {
  const pending: Item = { ...item, status: 'in_progress' };
  if (item.type === 'message') pending.content = [];
  if (item.type === 'function_call') pending.arguments = '';
  if (item.type === 'custom_tool_call') pending.input = '';
  const base = (type: string) => ({ type, sequence_number: seq(), output_index: index, item_id: item.id });
  sse.event('response.output_item.added', { ...base('response.output_item.added'), item: pending });
  if (item.type === 'message') {
    const text = (item.content as Array<{ text: string }>)[0].text;
    const part = { type: 'output_text', text: '', annotations: [] };
    sse.event('response.content_part.added', { ...base('response.content_part.added'), content_index: 0, part });
    sse.event('response.output_text.delta', { ...base('response.output_text.delta'), content_index: 0, delta: text });
    sse.event('response.output_text.done', { ...base('response.output_text.done'), content_index: 0, text });
    sse.event('response.content_part.done', {
      ...base('response.content_part.done'),
      content_index: 0,
      part: { ...part, text },
    });
  } else if (item.type === 'function_call') {
    const args = String(item.arguments);
    sse.event('response.function_call_arguments.delta', {
      ...base('response.function_call_arguments.delta'),
      delta: args,
    });
    sse.event('response.function_call_arguments.done', {
      ...base('response.function_call_arguments.done'),
      arguments: args,
    });
  } else {
    const input = String(item.input);
    sse.event('response.custom_tool_call_input.delta', {
      ...base('response.custom_tool_call_input.delta'),
      delta: input,
    });
    sse.event('response.custom_tool_call_input.done', { ...base('response.custom_tool_call_input.done'), input });
  }
  sse.event('response.output_item.done', { ...base('response.output_item.done'), item });
}

/** The Responses API module. */
export const openaiResponses: ProtocolModule = {
  protocol: 'openai-responses',
  matches: (method, path) => method === 'POST' && /^\/(v1\/)?responses$/.test(path),
  turnOf,
  tools: (body) =>
    ((body.tools as Array<{ name?: string; type?: string }> | undefined) ?? []).map((t): OfferedTool => ({
      name: String(t.name ?? t.type),
      type: t.type ?? 'function',
    })),
  respond(out, { model, turn, reply, usage, stream }) {
    const output = items(turn, reply);
    if (!stream) {
      out.json(200, response(model, turn, 'completed', output, usage));
      return;
    }
    const sse = out.sse();
    let n = 0;
    const seq = () => n++;
    const created = response(model, turn, 'in_progress', []);
    sse.event('response.created', { type: 'response.created', sequence_number: seq(), response: created });
    sse.event('response.in_progress', { type: 'response.in_progress', sequence_number: seq(), response: created });
    output.forEach((item, i) => streamItem(sse, seq, i, item));
    sse.event('response.completed', {
      type: 'response.completed',
      sequence_number: seq(),
      response: response(model, turn, 'completed', output, usage),
    });
    sse.end();
  },
  error: openaiError,
};
