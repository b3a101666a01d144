/**
 * A submitter's spec cannot make a prompt too long to start an agent with. A 65,536-character spec
 * whose YAML aliases repeat one long invariant made a prompt of hundreds of KiB: a command agent
 * taking it as an argument could not be started (Linux refuses an argument over 128 KiB), which
 * counted against the agent's health, shared by every tenant, and three such tasks opened its
 * circuit. Such a spec is now rejected, naming why; the real corpus stays far below the bound. The
 * bound is on the prompt as a command's launch carries it (JSON-escaped, where a quote takes two
 * bytes), and no prompt holds a control character (no argument can hold a NUL).
 */
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { parseSpecYaml } from '../../activities/spec-yaml';
import { buildRetryPrompt, buildTaskPrompt, MAX_PROMPT_BYTES, promptLaunchBytes } from '../../domain/prompt';
import { relayLaunch } from '../../host/gateway/launch';
import { MAX_FEEDBACK_CHARACTERS } from '../../domain/retry-feedback';
import { validateWorkingSpec } from '../../domain/spec';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { uniqueId } from '../helpers/fixtures';
import { testActivityDeps } from '../helpers/stack';

/** Linux's limit on one argument or environment string, its closing NUL included. */
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
    // 160,000 characters expanded: under the expanded text limit, twice the prompt's bound.
    const text = specWithInvariants(`  - &a ${'a'.repeat(40_000)}\n${'  - *a\n'.repeat(3)}`);
    assert.ok(text.length <= 65_536, 'a spec of the size a submitter may send');
    const result = await validated(text);
    assert.equal(result.ok, false);
    assert.match(
      result.ok ? '' : result.problems.join('; '),
      /^the agent's prompt from this spec's texts \(YAML aliases expanded\), as its launch carries it, would be at least \d+ bytes; at most 81920$/,
    );
  });

  it('counts bytes, not characters: three-byte characters under the character count are refused', async () => {
    const result = await validated(specWithInvariants(`  - ${'€'.repeat(40_000)}`));
    assert.equal(result.ok, false);
    assert.match(result.ok ? '' : result.problems[0], /would be \d+ bytes; at most 81920$/);
  });

  it('counts a quote as the two bytes its launch writes: aliased quotes under the character bound are refused', async () => {
    const quotes = `'${'"'.repeat(25_000)}'`;
    const text = specWithInvariants(`  - &q ${quotes}\n  - *q\n  - *q`);
    assert.ok(text.length <= 65_536);
    const result = await validated(text);
    assert.equal(result.ok, false, '75,000 characters, 150,000 bytes once escaped');
    assert.match(result.ok ? '' : result.problems[0], /would be 15\d{4} bytes; at most 81920$/);
  });

  it('hands no control character to an agent: a NUL in the title is written U+FFFD', () => {
    const result = validateWorkingSpec(
      parseSpecYaml(specWithInvariants('  - ok').replace('Big prompt', '"x\\0y\\x01z"')),
    );
    assert.ok(result.ok, result.ok ? '' : result.problems.join('; '));
    assert.ok(result.spec.title.includes('\0'), 'the spec keeps what was written');
    const prompt = buildRetryPrompt(result.spec, 'gate said \0 and \u001b[31m and \ud800');
    assert.ok(!/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(prompt), JSON.stringify(prompt));
    assert.match(prompt, /# Task BIG-001: x\ufffdy\ufffdz/);
    assert.match(prompt, /gate said \ufffd and \ufffd\[31m and \ufffd$/);
  });

  it("a prompt at the bound, with the longest feedback, still fits in a command's launch", () => {
    const result = validateWorkingSpec(parseSpecYaml(specWithInvariants(`  - ${'€'.repeat(26_900)}`)));
    assert.ok(result.ok, result.ok ? '' : result.problems.join('; '));
    assert.ok(promptLaunchBytes(buildTaskPrompt(result.spec)) > MAX_PROMPT_BYTES - 1024, 'near the bound');
    const prompt = buildRetryPrompt(result.spec, '€'.repeat(MAX_FEEDBACK_CHARACTERS + 100));
    // The relay's launch, in its environment (NAME=VALUE): bwrap reads it on a pipe, not its argv.
    const launch = `ARBITER_LAUNCH=${relayLaunch(['agent', '--message', prompt], {}).env.ARBITER_LAUNCH}`;
    const spare = LINUX_MAX_ARGUMENT_BYTES - 1 - Buffer.byteLength(launch);
    assert.ok(spare >= 16 * 1024, `${spare} bytes left for the operator's argv and home files`);
  });
});
