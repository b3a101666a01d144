/** The key shapes a command agent's registration may not spell out, and what passes. */
import assert from 'node:assert/strict';
import { literalSecretKind, literalSecretProblems } from '../../domain/literal-secrets';

/** Made-up keys of each shape, built from parts so no scanner takes this file for a leak. */
const KEYS: Record<string, string> = {
  Anthropic: `sk-ant-${'api03-'}${'A1b2C3d4'.repeat(4)}`,
  OpenAI: `sk-${'proj-'}${'Zz09_-aB'.repeat(4)}`,
  AWS: `${'AKIA'}${'ABCDEFGH23456789'}`,
  GitHub: `${'ghp_'}${'a1B2c3D4e5'.repeat(4)}`,
  'GitHub fine-grained': `${'github_pat_'}${'11ABCDEFG0'.repeat(3)}`,
  GitLab: `${'glpat-'}${'x'.repeat(20)}`,
  Google: `${'AIza'}${'Sy0123456789abcdefghijklmnopqrstuvw'}`,
  'Hugging Face': `${'hf_'}${'abcdefghij'.repeat(3)}`,
  Slack: `${'xoxb-'}${'1234567890-abc'}`,
  'private key': `-----BEGIN ${'OPENSSH'} PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n`,
};

describe('literal secrets in a registration', () => {
  for (const [vendor, key] of Object.entries(KEYS)) {
    it(`finds ${vendor}'s key shape alone, in a flag and in a config file`, () => {
      assert.ok(literalSecretKind(key), vendor);
      assert.ok(literalSecretKind(`--api-key=${key}`), `${vendor} in a flag`);
      assert.ok(literalSecretKind(`{"auth": {"key": "${key}"}}`), `${vendor} in a JSON file`);
    });
  }

  it('passes placeholders, URLs, model names and short look-alikes', () => {
    for (const value of [
      '{token}',
      '{gateway:anthropic}',
      'https://api.openai.com/v1',
      'claude-sonnet-4-5',
      'sk-short',
      '/opt/sk-learn-models-for-testing-purpose',
      'task-ask-questions-first',
      'ghp_tooShort',
      'AKIAlowercase0000000',
      '-----BEGIN PUBLIC KEY-----',
    ])
      assert.equal(literalSecretKind(value), undefined, value);
  });

  it('names where the key is and its kind, never the value', () => {
    const [problem] = literalSecretProblems({ env: { ANTHROPIC_API_KEY: KEYS.Anthropic } });
    assert.match(problem, /^config\.env\.ANTHROPIC_API_KEY: holds what looks like an Anthropic key \(sk-ant-…\);/);
    assert.match(problem, /\{token\}/);
    assert.ok(!problem.includes(KEYS.Anthropic.slice(8)), problem);
  });

  it("looks everywhere in a config: names, URLs, a plan's edits; a name that is a key is not repeated", () => {
    const problems = literalSecretProblems({
      homeFiles: { [`.keys/${KEYS.GitHub}`]: 'x', '.netrc': `password ${KEYS.GitLab}` },
      env: { [KEYS.AWS]: '1' },
      gateway: { upstreams: [{ baseUrl: `https://generativelanguage.googleapis.com/v1beta?key=${KEYS.Google}` }] },
      steps: [{ op: 'write', path: 'src/config.js', content: `module.exports = '${KEYS.OpenAI}';\n` }],
    });
    assert.deepEqual(
      problems.map((p) => p.split(': holds')[0]),
      [
        'config.homeFiles.<a name> (its name)',
        'config.homeFiles..netrc',
        'config.env.<a name> (its name)',
        'config.gateway.upstreams[0].baseUrl',
        'config.steps[0].content',
      ],
    );
    for (const key of Object.values(KEYS)) assert.ok(!problems.join('\n').includes(key.slice(6, 20)), key);
  });
});
