import assert from 'node:assert/strict';
import { DEFAULT_MODEL_KEYS, keyDestinationRefusal, parseModelKeys } from '../../domain/model-keys';

describe('ARBITER_MODEL_KEYS', () => {
  it('reads VARIABLE@host and VARIABLE@host:port, hosts in any case, IPv6 in brackets', () => {
    assert.deepEqual(parseModelKeys(' A_KEY@API.example.com , b@[::1]:8443,'), {
      rules: [
        { name: 'A_KEY', host: 'api.example.com' },
        { name: 'b', host: '[::1]', port: '8443' },
      ],
    });
    assert.deepEqual(parseModelKeys(''), { rules: [] });
  });

  it('sends a key over plain http only to this machine, or where a rule says http://', () => {
    const parsed = parseModelKeys('K@127.0.0.1,K@[::1]:9,K@localhost,K@http://llm.internal:8000');
    assert.ok('rules' in parsed);
    const refusal = (baseUrl: string) => keyDestinationRefusal(parsed.rules, { apiKeyEnv: 'K', baseUrl });
    for (const url of ['http://127.0.0.1:5/v1', 'http://[::1]:9', 'http://localhost:1', 'http://llm.internal:8000/v1'])
      assert.equal(refusal(url), undefined, url);
    assert.equal(refusal('https://llm.internal:8000/v1'), undefined, 'https is never worse');
    assert.match(
      refusal('http://llm.internal:8001') ?? '',
      /only to 127\.0\.0\.1, \[::1\]:9, localhost, http:\/\/llm\.internal:8000/,
    );
  });

  it('names every malformed entry', () => {
    const parsed = parseModelKeys('OK@h,no-host,1BAD@h,K@h@i,K@h:port,K@https://h,OK@http://h');
    assert.ok('problems' in parsed);
    assert.equal(parsed.problems.length, 5, parsed.problems.join('\n'));
    for (const entry of ['no-host', '1BAD@h', 'K@h@i', 'K@h:port', 'K@https://h'])
      assert.ok(
        parsed.problems.some((p) => p.includes(`'${entry}'`)),
        entry,
      );
  });

  it("defaults to each preset's key for its vendor's host", () => {
    const pairs = DEFAULT_MODEL_KEYS.map((r) => `${r.name}@${r.host}`);
    for (const pair of ['ANTHROPIC_API_KEY@api.anthropic.com', 'OPENAI_API_KEY@api.openai.com'])
      assert.ok(pairs.includes(pair), pairs.join(', '));
    assert.equal(new Set(pairs).size, pairs.length, 'each pair once');
  });

  it('allows a key only to its host and port; an upstream without a key, or a worker without rules, is not its business', () => {
    const parsed = parseModelKeys('K@llm.internal:8443,K@api.example.com,OTHER@evil.example');
    assert.ok('rules' in parsed);
    const refusal = (apiKeyEnv: string | undefined, baseUrl: string) =>
      keyDestinationRefusal(parsed.rules, { apiKeyEnv, baseUrl });
    assert.equal(refusal('K', 'https://llm.internal:8443/v1'), undefined);
    assert.equal(refusal('K', 'https://API.example.com/v1'), undefined);
    assert.equal(refusal('K', 'https://api.example.com:8443'), undefined, 'no port named: any port');
    assert.match(
      refusal('K', 'https://llm.internal/v1') ?? '',
      /sends K only to llm\.internal:8443, api\.example\.com, not to https:\/\/llm\.internal/,
    );
    assert.match(refusal('K', 'https://evil.example') ?? '', /not to https:\/\/evil\.example/);
    assert.match(
      refusal('K', 'https://api.example.com.evil.example') ?? '',
      /not to https:\/\/api\.example\.com\.evil\.example/,
    );
    assert.match(refusal('UNLISTED', 'https://api.example.com') ?? '', /sends UNLISTED to no host/);
    assert.equal(refusal(undefined, 'https://anywhere.example'), undefined);
    assert.match(refusal('K', 'http://api.example.com/v1') ?? '', /not to http:\/\/api\.example\.com .*https only/);
    for (const url of [
      'https://api.example.com/v1/files#',
      'https://api.example.com/v1/files?',
      'https://api.example.com/v1?x=1',
      'https://evil.example@api.example.com',
      'https://api.example.com\\@evil.example',
      'ws://api.example.com',
    ])
      assert.match(refusal('K', url) ?? '', /only to a plain http\(s\) URL/, url);
  });

  it('without rules, applies the defaults: a caller that forgets them sends no variable anywhere else', () => {
    const none = (apiKeyEnv: string, baseUrl: string) => keyDestinationRefusal(undefined, { apiKeyEnv, baseUrl });
    assert.match(none('K', 'https://evil.example') ?? '', /sends K to no host/);
    assert.match(none('OPENAI_API_KEY', 'https://evil.example/v1') ?? '', /only to api\.openai\.com/);
    assert.equal(none('OPENAI_API_KEY', 'https://api.openai.com/v1'), undefined);
  });
});
