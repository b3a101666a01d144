/**
 * The fake model servers over real HTTP, in the shapes the CLIs that are not installed here
 * (aider, opencode, mini-swe-agent: chat completions) and Arbiter's own loop will need:
 * streamed and whole replies with tool calls and usage, turns counted from the history,
 * side requests answered and kept apart, the token enforced, and unknown paths recorded.
 */
import assert from 'node:assert/strict';
import { startFakeModels, type FakeModels } from '../helpers/fake-models/server';
import type { ConversationScript } from '../helpers/fake-models/script';

const KEY = 'tok-fake';
const SCRIPT: ConversationScript = [
  { text: 'Looking.', toolCalls: [{ name: 'run', input: { cmd: 'node test.js' } }] },
  { text: 'Fixed.', usage: { input: 7, output: 3 } },
];

async function post(fake: FakeModels, path: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${fake.origin}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}`, ...headers },
    body: JSON.stringify(body),
  });
}

/** A JSON reply, loosely typed: the assertions check its shape. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function json(res: Promise<Response>): Promise<any> {
  return (await res).json();
}

/** The `data:` payloads of an SSE body, JSON-parsed (`[DONE]` kept as the string). */
async function events(res: Response): Promise<unknown[]> {
  const text = await res.text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => l.slice(6))
    .map((d) => (d === '[DONE]' ? d : JSON.parse(d)));
}

const chatTools = [{ type: 'function', function: { name: 'run', parameters: { type: 'object' } } }];

describe('fake model servers', () => {
  let fake: FakeModels;
  beforeEach(async () => {
    fake = await startFakeModels({ script: SCRIPT, apiKey: KEY });
  });
  afterEach(() => fake.close());

  it('chat completions: a whole reply with tool_calls, then a streamed one with a usage chunk', async () => {
    const first = await json(
      post(fake, '/v1/chat/completions', {
        model: 'm',
        messages: [{ role: 'user', content: 'fix' }],
        tools: chatTools,
      }),
    );
    assert.equal(first.choices[0].finish_reason, 'tool_calls');
    assert.deepEqual(first.choices[0].message.tool_calls, [
      { id: 'call_1_0', type: 'function', function: { name: 'run', arguments: '{"cmd":"node test.js"}' } },
    ]);
    assert.deepEqual(first.usage, { prompt_tokens: 101, completion_tokens: 11, total_tokens: 112 });
    const history = [
      { role: 'user', content: 'fix' },
      first.choices[0].message,
      { role: 'tool', tool_call_id: 'call_1_0', content: 'ok' },
    ];
    const streamed = await events(
      await post(fake, '/u/local/chat/completions', {
        model: 'm',
        messages: history,
        tools: chatTools,
        stream: true,
        stream_options: { include_usage: true },
      }),
    );
    const chunks = streamed.filter((e) => e !== '[DONE]') as Array<{
      choices: Array<{ delta: { content?: string }; finish_reason: string | null }>;
      usage?: unknown;
    }>;
    assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), 'Fixed.');
    assert.equal(chunks.at(-2)!.choices[0].finish_reason, 'stop');
    assert.deepEqual(chunks.at(-1)!.usage, { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 });
    assert.equal(streamed.at(-1), '[DONE]');
    assert.deepEqual(
      fake.turns().map((r) => [r.turn, r.path, r.stream]),
      [
        [1, '/v1/chat/completions', false],
        [2, '/u/local/chat/completions', true],
      ],
    );
    assert.deepEqual(fake.usage(), { input: 108, output: 14 });
  });

  it('anthropic messages: tool_use blocks whole, and streamed as partial JSON', async () => {
    const tools = [{ name: 'run', input_schema: { type: 'object' } }];
    const whole = await json(
      post(fake, '/v1/messages', {
        model: 'c',
        max_tokens: 100,
        messages: [{ role: 'user', content: 'x' }],
        tools,
      }),
    );
    assert.equal(whole.stop_reason, 'tool_use');
    assert.deepEqual(whole.content[1], {
      type: 'tool_use',
      id: 'toolu_1_0',
      name: 'run',
      input: { cmd: 'node test.js' },
    });
    const streamed = (await events(
      await post(fake, '/v1/messages?beta=true', {
        model: 'c',
        stream: true,
        messages: [{ role: 'user', content: 'x' }],
        tools,
      }),
    )) as Array<{ type: string; delta?: { partial_json?: string } }>;
    const partial = streamed.map((e) => e.delta?.partial_json ?? '').join('');
    assert.deepEqual(JSON.parse(partial), { cmd: 'node test.js' });
    assert.equal(streamed.at(-1)!.type, 'message_stop');
  });

  it('responses: function_call items, and response.completed with usage', async () => {
    const tools = [{ type: 'function', name: 'run' }];
    const input = [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'x' }] }];
    const first = (await events(await post(fake, '/responses', { model: 'g', input, tools, stream: true }))) as Array<{
      type: string;
      item?: Record<string, unknown>;
      response?: { usage: { input_tokens: number } };
    }>;
    const call = first.find((e) => e.type === 'response.output_item.done' && e.item?.type === 'function_call')!.item!;
    assert.deepEqual([call.name, call.call_id, call.arguments], ['run', 'call_1_0', '{"cmd":"node test.js"}']);
    assert.equal(first.at(-1)!.type, 'response.completed');
    assert.equal(first.at(-1)!.response!.usage.input_tokens, 101);
    const second = await json(
      post(fake, '/v1/responses', {
        model: 'g',
        tools,
        input: [...input, call, { type: 'function_call_output', call_id: 'call_1_0', output: 'ok' }],
      }),
    );
    assert.equal(second.output[0].content[0].text, 'Fixed.');
    assert.deepEqual(
      fake.turns().map((r) => r.turn),
      [1, 2],
    );
  });

  it('answers side requests and probes apart from the conversation, refuses a wrong token, records everything', async () => {
    const title = await json(
      post(fake, '/v1/messages', {
        model: 'haiku',
        max_tokens: 20,
        messages: [{ role: 'user', content: 'title?' }],
      }),
    );
    assert.equal(title.content[0].text, 'Fake title');
    assert.equal((await post(fake, '/v1/messages/count_tokens', { messages: [] })).status, 200);
    assert.equal(
      (await fetch(`${fake.origin}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } })).status,
      200,
    );
    assert.equal((await fetch(`${fake.origin}/api/hello`, { method: 'HEAD' })).status, 404);
    const denied = await post(
      fake,
      '/v1/chat/completions',
      { model: 'm', messages: [], tools: chatTools },
      {
        authorization: 'Bearer wrong',
      },
    );
    assert.equal(denied.status, 401);
    assert.deepEqual(
      fake.requests.map((r) => [r.method, r.path, r.kind, r.outcome]),
      [
        ['POST', '/v1/messages', 'side', 'completed'],
        ['POST', '/v1/messages/count_tokens', 'other', 'completed'],
        ['GET', '/v1/models', 'other', 'completed'],
        ['HEAD', '/api/hello', 'other', 'not-found'],
        ['POST', '/v1/chat/completions', 'other', 'unauthorized'],
      ],
    );
    assert.deepEqual(fake.turns(), []);
    assert.deepEqual(fake.usage('side'), { input: 5, output: 1 });
  });
});
