/**
 * Whose fault a model's refusal is: a conversation that outgrew the model's context, or whose
 * content an endpoint's filter refused, is this run's FAIL; anything else about the request is the
 * agent's configuration (its health, shared by every tenant). Read from the error's code and the start of its message, so text the request carried
 * and an endpoint echoed back cannot decide it.
 */
import assert from 'node:assert/strict';
import { runsOwnRefusal } from '../../activities/model-errors';

const body = (error: Record<string, unknown>) => JSON.stringify({ error });

describe("activities: reading a model's refusal", () => {
  const cases: Array<[string, number, string, boolean]> = [
    [
      'OpenAI: context_length_exceeded',
      400,
      body({ message: 'too long', type: 'invalid_request_error', code: 'context_length_exceeded' }),
      true,
    ],
    [
      'vLLM: the messages past the context',
      400,
      body({ message: "This model's maximum context length is 8192 tokens. However, you requested 9100 tokens." }),
      true,
    ],
    ['Anthropic-style: prompt is too long', 400, body({ message: 'prompt is too long: 210000 tokens > 200000' }), true],
    ['llama.cpp', 400, body({ message: 'the request exceeds the available context size, try increasing it' }), true],
    ['a request body too large', 413, 'Payload Too Large', true],
    [
      'a max_tokens past the context: configuration',
      400,
      body({ message: "'max_tokens' is too large: 100000. This model's maximum context length is 8192 tokens" }),
      false,
    ],
    [
      'an echoed request naming the context: configuration',
      400,
      body({ message: 'Unsupported parameter: temperature', param: "This model's maximum context length is 1" }),
      false,
    ],
    [
      'a refused key',
      401,
      body({ message: "This model's maximum context length is 1", code: 'invalid_api_key' }),
      false,
    ],
    ['not JSON', 400, "This model's maximum context length is 8192 tokens", false],
    [
      "Azure OpenAI's content filter",
      400,
      body({
        message: "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
        code: 'content_filter',
        param: 'prompt',
      }),
      true,
    ],
    ['OpenAI: a flagged prompt', 400, body({ message: 'Invalid prompt: flagged', code: 'invalid_prompt' }), true],
    ['a content code on another status: configuration', 403, body({ message: 'no', code: 'content_filter' }), false],
    ['a message naming the filter, no code: configuration', 400, body({ message: 'content_filter' }), false],
  ];
  for (const [name, status, text, outgrew] of cases)
    it(`${name}: ${outgrew ? "the run's" : "the configuration's"}`, () => {
      assert.equal(runsOwnRefusal(status, text), outgrew);
    });
});
