/** What the gateway reads from model traffic: allowed paths per protocol and usage, whole or streamed. */
import assert from 'node:assert/strict';
import { modelNotAllowed, modelPathProblem, offHostProblem } from '../../domain/model-request';
import { usageDocuments, usageOf } from '../../domain/model-usage';

const sse = (events: unknown[]) => events.map((e) => `event: x\ndata: ${JSON.stringify(e)}\n\n`).join('');

describe('model usage', () => {
  it('allows only each protocol’s own calls', () => {
    assert.equal(modelPathProblem('anthropic-messages', 'POST', 'v1/messages'), undefined);
    assert.equal(modelPathProblem('anthropic-messages', 'POST', 'v1/messages?beta=true'), undefined);
    assert.equal(modelPathProblem('anthropic-messages', 'POST', 'v1/messages/count_tokens'), undefined);
    assert.equal(modelPathProblem('openai-chat', 'POST', 'chat/completions'), undefined);
    assert.equal(modelPathProblem('openai-responses', 'POST', 'v1/responses'), undefined);
    assert.equal(modelPathProblem('openai-responses', 'GET', 'models'), undefined);
    for (const [protocol, method, rest] of [
      ['anthropic-messages', 'GET', 'v1/messages'],
      ['anthropic-messages', 'POST', 'v1/messages/batches'],
      ['anthropic-messages', 'POST', 'v1/files'],
      ['anthropic-messages', 'POST', 'v1/messages/../files'],
      ['anthropic-messages', 'POST', '/evil.example/v1/messages'],
      ['openai-chat', 'POST', 'v1/responses'],
      ['openai-chat', 'POST', 'v1/fine_tuning/jobs'],
      ['openai-responses', 'DELETE', 'v1/responses'],
      ['openai-responses', 'POST', 'v1%2Fresponses'],
    ] as const)
      assert.ok(modelPathProblem(protocol, method, rest), `${protocol} ${method} ${rest} is refused`);
  });

  it('reads usage only from the events of a stream that report one, however their null is spaced', () => {
    const events = [
      'data: {"choices":[],"usage":null}',
      'data: {"choices":[],"usage" :\tnull }',
      'data: {"usage": {"a":1}}',
    ];
    assert.deepEqual(usageDocuments(events.join('\n\n')), ['{"usage": {"a":1}}']);
  });

  it('reads Anthropic usage from a message and from its stream', () => {
    assert.deepEqual(
      usageOf(
        'anthropic-messages',
        JSON.stringify({ model: 'claude-x', usage: { input_tokens: 12, output_tokens: 3 } }),
      ),
      { inputTokens: 12, outputTokens: 3, model: 'claude-x' },
    );
    const stream = sse([
      {
        type: 'message_start',
        message: { model: 'claude-x', usage: { input_tokens: 20, cache_read_input_tokens: 5, output_tokens: 1 } },
      },
      { type: 'content_block_delta', delta: { type: 'text_delta', text: 'hi' } },
      { type: 'message_delta', usage: { output_tokens: 9 } },
      { type: 'message_stop' },
    ]);
    assert.deepEqual(usageOf('anthropic-messages', stream), {
      inputTokens: 25,
      outputTokens: 9,
      cache: { read: 5, shortWrites: 0, longWrites: 0 },
      model: 'claude-x',
    });
  });

  // Before: compaction's own sampling (180,000 in, 3,500 out here) was billed but never charged.
  it("counts every sampling of an Anthropic call, compaction's included, and keeps a stream's largest figures", () => {
    const usage = {
      input_tokens: 23_000,
      output_tokens: 1_000,
      iterations: [
        { type: 'compaction', input_tokens: 180_000, output_tokens: 3_500 },
        { type: 'message', input_tokens: 23_000, output_tokens: 1_000 },
      ],
    };
    assert.deepEqual(usageOf('anthropic-messages', JSON.stringify({ usage })), {
      inputTokens: 203_000,
      outputTokens: 4_500,
    });
    const streamed = sse([
      { type: 'message_start', message: { usage: { input_tokens: 23_000, output_tokens: 1 } } },
      { type: 'message_delta', usage },
    ]);
    assert.deepEqual(usageOf('anthropic-messages', streamed), { inputTokens: 203_000, outputTokens: 4_500 });
    const cutShort = sse([
      { type: 'message_start', message: { usage: { input_tokens: 10, cache_creation_input_tokens: 5_000 } } },
      { type: 'message_delta', usage: { input_tokens: 10, cache_creation_input_tokens: null, output_tokens: 5 } },
    ]);
    assert.deepEqual(usageOf('anthropic-messages', cutShort), {
      inputTokens: 5_010,
      outputTokens: 5,
      cache: { read: 0, shortWrites: 0, longWrites: 5_000 },
    });
  });

  it('reads how much input came from or went into the prompt cache', () => {
    const written = (cache_creation?: object) =>
      usageOf(
        'anthropic-messages',
        JSON.stringify({
          usage: { input_tokens: 10, cache_creation_input_tokens: 60, cache_creation, output_tokens: 1 },
        }),
      ).cache;
    assert.deepEqual(written({ ephemeral_5m_input_tokens: 40, ephemeral_1h_input_tokens: 20 }), {
      read: 0,
      shortWrites: 40,
      longWrites: 20,
    });
    // Writes the reply does not give a duration for are charged as the dearer one-hour kind.
    assert.deepEqual(written(), { read: 0, shortWrites: 0, longWrites: 60 });
    assert.deepEqual(written({ ephemeral_5m_input_tokens: 500 }), { read: 0, shortWrites: 60, longWrites: 0 });
    const chat = { usage: { prompt_tokens: 50, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 30 } } };
    assert.deepEqual(usageOf('openai-chat', JSON.stringify(chat)).cache, { read: 30, shortWrites: 0, longWrites: 0 });
    const responses = { usage: { input_tokens: 50, output_tokens: 1, input_tokens_details: { cached_tokens: 0 } } };
    assert.equal(usageOf('openai-responses', JSON.stringify(responses)).cache, undefined);
  });

  it('reads OpenAI usage from responses and chat completions, whole and streamed', () => {
    const responses = sse([
      { type: 'response.created', response: { model: 'gpt-x' } },
      { type: 'response.completed', response: { model: 'gpt-x', usage: { input_tokens: 30, output_tokens: 7 } } },
    ]);
    assert.deepEqual(usageOf('openai-responses', responses), { inputTokens: 30, outputTokens: 7, model: 'gpt-x' });
    const chat = `${sse([
      { model: 'm', choices: [{ delta: { content: 'a' } }] },
      { model: 'm', choices: [], usage: { prompt_tokens: 4, completion_tokens: 2 } },
    ])}data: [DONE]\n\n`;
    assert.deepEqual(usageOf('openai-chat', chat), { inputTokens: 4, outputTokens: 2, model: 'm' });
    assert.deepEqual(usageOf('openai-chat', '{"usage":{"prompt_tokens":8,"completion_tokens":1}}'), {
      inputTokens: 8,
      outputTokens: 1,
    });
  });

  it('ignores what is not usage: garbage, negative and fractional counts', () => {
    assert.deepEqual(usageOf('openai-chat', 'not json'), { inputTokens: 0, outputTokens: 0 });
    assert.deepEqual(usageOf('openai-chat', '{"usage":{"prompt_tokens":-5,"completion_tokens":"9"}}'), {
      inputTokens: 0,
      outputTokens: 0,
    });
  });

  it('finds what would make the upstream reach past itself, however deep, and nothing else', () => {
    const urlImage = { type: 'image', source: { type: 'url', url: 'https://x.example/a.png' } };
    const inToolResult = { messages: [{ role: 'user', content: [{ type: 'tool_result', content: [urlImage] }] }] };
    assert.match(offHostProblem('anthropic-messages', inToolResult) ?? '', /'url' part/);
    assert.match(offHostProblem('anthropic-messages', { system: [urlImage] }) ?? '', /fetch a URL/);
    assert.match(offHostProblem('anthropic-messages', { tools: [{ type: 'mcp_toolset' }] }) ?? '', /server tool/);
    // Tool types are allowed by name: a deny list missed image generation, and misses what comes next.
    for (const type of ['image_generation', 'some_future_tool', 42, 'function_server', 'bash_2025', 'computer_use'])
      assert.match(
        offHostProblem('openai-responses', { tools: [{ type }] }) ?? '',
        /not one the client runs/,
        String(type),
      );
    for (const model of ['gpt-4o-search-preview', 'o4-mini-deep-research'])
      assert.match(offHostProblem('openai-chat', { model }) ?? '', /search the web/, model);
    const variable = { type: 'input_image', image_url: 'https://x.example/a.png' };
    // Before: a stored prompt was let through, its server tools unseen, only its variables checked.
    for (const prompt of [{ id: 'p', variables: { v: variable } }, { id: 'pmpt_with_web_search' }])
      assert.match(offHostProblem('openai-responses', { prompt }) ?? '', /a stored prompt/);
    assert.match(offHostProblem('openai-responses', { tools: [{ name: 'untyped' }] }) ?? '', /not one the client runs/);
    const clientTools = [
      'function',
      'custom',
      'tool_search',
      'local_shell',
      'bash_20250124',
      'text_editor_20250728',
      'computer_use_preview',
    ].map((type) => ({ type, name: type }));
    assert.equal(offHostProblem('openai-responses', { model: 'gpt-5', tools: clientTools }), undefined);
    // A client tool type the upstream runs itself: OpenAI's hosted shell, with the network its policy allows.
    const hostedShell = {
      type: 'shell',
      environment: { type: 'container_auto', network_policy: { type: 'allowlist' } },
    };
    for (const tool of [
      hostedShell,
      { type: 'shell', environment: { type: 'container_reference', container_id: 'c' } },
      { type: 'shell', environment: 'container_auto' },
      { type: 'function', name: 'f', server_url: 'https://x.example' },
      { type: 'local_shell', container: 'c' },
      { name: 'anthropic-custom', connector_id: 'c' },
    ])
      assert.match(
        offHostProblem(tool.type ? 'openai-responses' : 'anthropic-messages', { tools: [tool] }) ?? '',
        /would run on the upstream/,
        JSON.stringify(tool),
      );
    const clientRun = [
      { type: 'shell', environment: { type: 'local' } },
      { type: 'computer_use_preview', environment: 'browser', display_width: 1024, display_height: 768 },
    ];
    assert.equal(offHostProblem('openai-responses', { tools: clientRun }), undefined);
    assert.match(offHostProblem('openai-chat', { web_search_options: {} }) ?? '', /search the web/);
    // OpenAI-compatible aggregators' own fields (found in attack): OpenRouter's web plugin, presets, `:online` models.
    assert.match(offHostProblem('openai-chat', { plugins: [{ id: 'web' }] }) ?? '', /`plugins`/);
    assert.match(offHostProblem('openai-chat', { preset: 'p' }) ?? '', /a preset brings/);
    assert.match(offHostProblem('anthropic-messages', { model: 'anthropic/claude-sonnet-4:online' }) ?? '', /web/);
    assert.match(offHostProblem('openai-chat', { model: 'openai/gpt-4o@preset/research' }) ?? '', /preset/);
    assert.match(offHostProblem('openai-chat', { provider: { order: ['pricey'] } }) ?? '', /`provider`/);
    assert.match(offHostProblem('openai-chat', { api_base: 'http://10.0.0.1' }) ?? '', /`api_base`/);
    assert.match(offHostProblem('openai-chat', { search_parameters: { mode: 'on' } }) ?? '', /search the web/);
    assert.match(offHostProblem('openai-chat', { model: 'perplexity/sonar-pro' }) ?? '', /search the web/);
    const cheap = { name: 'or', models: ['cheap', 'cheaper'] };
    assert.equal(modelNotAllowed(cheap, { model: 'cheap', models: null }), undefined, 'a null optional field');
    assert.equal(
      modelNotAllowed(cheap, { model: 'cheap', models: ['cheap', 'cheaper'], fallbacks: ['cheaper'] }),
      undefined,
    );
    for (const [doc, refusal] of [
      [
        { model: 'cheap', models: ['cheap', 'o1-pro'], route: 'fallback' },
        /`models` names the model 'o1-pro', not allowed/,
      ],
      [{ model: 'cheap', fallbacks: [{ model: 'o1-pro' }] }, /`fallbacks` names a model entry that is not a name/],
      [{ model: 'cheap', context_window_fallbacks: ['o1-pro'] }, /`context_window_fallbacks` names the model 'o1-pro'/],
      [{ model: 'cheap', models: 'o1-pro' }, /`models` names the model 'o1-pro'/],
    ] as const)
      assert.match(modelNotAllowed(cheap, doc) ?? '', refusal);
    assert.match(
      offHostProblem('openai-responses', { input: [{ type: 'input_image', image_url: ' HTTP://x.example' }] }) ?? '',
      /'input_image'/,
    );
    const text = { messages: [{ role: 'user', content: 'see https://x.example' }], tools: [{ name: 'web_search' }] };
    assert.equal(offHostProblem('anthropic-messages', text), undefined, 'a URL in text and a client tool are fine');
    assert.equal(offHostProblem('openai-chat', { background: true }), undefined, 'background is a Responses setting');
  });
});
