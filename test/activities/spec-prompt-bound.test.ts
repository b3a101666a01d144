/**
 * A submitter's spec cannot make a prompt too long to start an agent with. A 65,536-character spec
 * whose YAML aliases repeat one long invariant made a prompt of hundreds of KiB: a command agent
 * taking it as an argument could not be started (Linux refuses an argument over 128 KiB), which
 * counted against the agent's health, shared by every tenant, and three such tasks opened its
 * circuit. Such a spec is now rejected, naming why; the real corpus stays far below the bound.
 */
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { parseSpecYaml } from '../../activities/spec-yaml';
import { buildRetryPrompt, MAX_PROMPT_BYTES } from '../../domain/prompt';
import { MAX_FEEDBACK_CHARACTERS } from '../../domain/retry-feedback';
import { validateWorkingSpec } from '../../domain/spec';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { uniqueId } from '../helpers/fixtures';
import { testActivityDeps } from '../helpers/stack';

const LINUX_MAX_ARGUMENT_BYTES = 128 * 1024;

function specWithInvariants(invariants: string): string {
  const text = stringify({
    id: 'BIG-001',
    title: 'Big prompt',
    risk_tier: 3,
    mode: 'feature',
    blast_radius: { modules: ['src'], data_migration: false },
    scope: { in: ['src/'], out: [] },
    invariants: ['PLACEHOLDER'],
    acceptance: [{ id: 'A1', given: 'the app', when: 'the change lands', then: 'it works' }],
  });
  return text.replace('  - PLACEHOLDER', invariants);
}

/** `validateSpec` as the workflow runs it: the spec's problems when it refuses, or ok. */
async function validated(specYaml: string): Promise<{ ok: true } | { ok: false; problems: string[] }> {
  const { validateSpec } = createActivities(testActivityDeps());
  const input = { tenantId: uniqueId('tenant'), taskId: uniqueId('task'), specYaml };
  return new MockActivityEnvironment().run(validateSpec, input).then(
    () => ({ ok: true as const }),
    (err: unknown) => {
      if (!(err instanceof ApplicationFailure) || err.type !== 'SpecInvalidError') throw err;
      return { ok: false as const, problems: err.details?.[0] as string[] };
    },
  );
}

describe('activities: the prompt a spec makes is bounded', () => {
  it('rejects a spec whose aliases repeat a long text past the bound, before building the prompt', async () => {
    const text = specWithInvariants(`  - &a ${'a'.repeat(40_000)}\n${'  - *a\n'.repeat(50)}`);
    assert.ok(text.length <= 65_536, 'a spec of the size a submitter may send');
    const result = await validated(text);
    assert.equal(result.ok, false);
    assert.match(
      result.ok ? '' : result.problems.join('; '),
      /^the agent's prompt from this spec's texts \(YAML aliases expanded\) would be at least \d+ bytes; at most 98304$/,
    );
  });

  it('counts bytes, not characters: three-byte characters under the character count are refused', async () => {
    const result = await validated(specWithInvariants(`  - ${'€'.repeat(40_000)}`));
    assert.equal(result.ok, false);
    assert.match(result.ok ? '' : result.problems[0], /would be \d+ bytes; at most 98304$/);
  });

  it('a prompt at the bound, with the longest feedback, still fits in one argument', () => {
    const result = validateWorkingSpec(parseSpecYaml(specWithInvariants(`  - ${'€'.repeat(32_000)}`)));
    assert.ok(result.ok, result.ok ? '' : result.problems.join('; '));
    const prompt = buildRetryPrompt(result.spec, '€'.repeat(MAX_FEEDBACK_CHARACTERS));
    assert.ok(Buffer.byteLength(prompt) <= LINUX_MAX_ARGUMENT_BYTES, `${Buffer.byteLength(prompt)} bytes`);
    assert.ok(MAX_PROMPT_BYTES + 3 * MAX_FEEDBACK_CHARACTERS + 2 <= LINUX_MAX_ARGUMENT_BYTES);
  });
});
