/**
 * Attack: exhausting the workflow thread's heap. Every cached run lives in the worker's workflow
 * thread, whose heap is capped (ARBITER_WORKFLOW_HEAP_MB); when it runs out the worker stops,
 * and after a restart the same runs replay into the same exhaustion. So nothing a submitter, an
 * agent or a model controls may grow a run's workflow state without bound: the task input is
 * capped, a spec's YAML may not expand past a limit, the validation result the run keeps holds
 * only the spec's essentials, and refused operations, tool calls and path lists are clipped.
 */
import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { MAX_EXPANDED_NODES } from '../../activities/spec-yaml';
import type { ValidateSpecResult } from '../../domain/activity-io';
import { PolicyViolationError, SpecInvalidError } from '../../domain/errors';
import { TaskInputSchema } from '../../domain/task';
import { taskWorkflowId } from '../../temporal-config';
import { SILENT_LOGGER } from '../../workers/logger';
import { goodTaskInput, specYaml, uniqueId } from '../helpers/fixtures';
import { testActivityDeps } from '../helpers/stack';
import { runToEnd } from '../helpers/tasks';

/** A task run as the server reports it to the activities it schedules. */
function activityRun() {
  const ref = { tenantId: uniqueId('heap'), taskId: uniqueId('task') };
  const env = new MockActivityEnvironment(
    { workflowExecution: { workflowId: taskWorkflowId(ref), runId: uniqueId('run') } },
    { logger: SILENT_LOGGER },
  );
  return { ref, env, activities: createActivities(testActivityDeps()) };
}

/**
 * A spec whose one contract holds `value` (YAML text), after `anchors` (YAML lines) under a key
 * of their own: a current-format spec warns about that key and accepts the rest.
 */
function specWithContractValue(value: string, anchors = ''): string {
  const contracts = [{ name: 'c', type: 'api', path: 'docs/api.yaml', extra: 'VALUE' }];
  return `${anchors ? `x-anchors:\n${anchors}` : ''}${specYaml({ contracts }).replace('extra: VALUE', `extra: ${value}`)}`;
}

/** `depth` anchors, each a list of nine aliases of the one before, the first an empty list: 9^depth values expanded. */
function emptyListAliasTree(depth: number): string {
  let text = '  a0: &a0 []\n';
  for (let i = 1; i <= depth; i++)
    text += `  a${i}: &a${i} [${Array(9)
      .fill(`*a${i - 1}`)
      .join(', ')}]\n`;
  return text;
}

describe('attack: exhausting the workflow heap', function () {
  this.timeout(120_000);

  it('a submitter cannot send an oversized spec, baseRef or gate argv: the input is refused, naming the field', () => {
    const base = { tenantId: 't', taskId: 'k', specYaml: specYaml(), repo: 'app' };
    const refused = (extra: Record<string, unknown>, pattern: RegExp) => {
      const result = TaskInputSchema.safeParse({ ...base, ...extra });
      assert.ok(!result.success, `accepted ${JSON.stringify(Object.keys(extra))}`);
      assert.match(JSON.stringify(result.error.issues), pattern);
    };
    refused({ specYaml: `${specYaml()}#${'x'.repeat(64 * 1024)}\n` }, /spec is larger than 64 KiB/);
    refused({ baseRef: 'r'.repeat(256) }, /baseRef is longer than 255/);
    refused({ gates: [{ name: 'g', argv: ['node', 'x'.repeat(4097)] }] }, /longer than 4096 characters/);
    refused({ gates: [{ name: 'g', argv: Array(65).fill('x') }] }, /more than 64 arguments/);
    const wide = Array.from({ length: 5 }, (_, i) => ({ name: `g${i}`, argv: ['node', 'x'.repeat(4000)] }));
    refused({ gates: wide }, /gate arguments total more than 16384 characters/);
    assert.ok(TaskInputSchema.safeParse({ ...base, gates: wide.slice(0, 4), baseRef: 'main' }).success);
  });

  it('an alias tree of empty lists, which the parser’s alias limit does not count, is REJECTED at once', async () => {
    const input = { ...(await goodTaskInput()), specYaml: specWithContractValue('*a12', emptyListAliasTree(12)) };
    const final = await runToEnd(input);
    assert.equal(final.state, 'REJECTED', JSON.stringify(final.error));
    assert.equal(final.error?.type, 'SpecInvalidError');
    assert.match(final.error?.problems?.join('; ') ?? '', new RegExp(`more than ${MAX_EXPANDED_NODES} values`));
  });

  it('a spec nested deeper than any CAWS field is refused as unreadable; a real-size alias use still validates', async () => {
    const { ref, env, activities } = activityRun();
    const deep = specWithContractValue(`${'['.repeat(40)}${']'.repeat(40)}`);
    await assert.rejects(env.run(activities.validateSpec, { ...ref, specYaml: deep }), /nests more than 32 levels/);
    const modest = specWithContractValue('*a3', emptyListAliasTree(3));
    const ok: ValidateSpecResult = await env.run(activities.validateSpec, { ...ref, specYaml: modest });
    assert.equal(ok.spec.id, 'TEST-001');
  });

  it('the validation result a run keeps holds the spec’s essentials only, however much else the spec says', async () => {
    const { ref, env, activities } = activityRun();
    const contracts = Array.from({ length: 100 }, (_, i) => ({
      name: `c${i}`,
      type: 'api',
      path: `docs/api-${i}.yaml`,
      note: 'n'.repeat(400),
    }));
    const text = specYaml({ contracts });
    assert.ok(text.length > 40_000, 'the spec is large');
    const result: ValidateSpecResult = await env.run(activities.validateSpec, { ...ref, specYaml: text });
    const kept = JSON.stringify(result);
    assert.ok(kept.length < 2_000, `the result is ${kept.length} characters`);
    assert.ok(!kept.includes('nnnnnnnn'), 'no contract text in the result');
    assert.deepEqual(Object.keys(result.spec).sort(), ['acceptance', 'format', 'id', 'mode', 'riskTier', 'title']);
    assert.ok(result.specRef, 'the whole spec is stored, by reference');
  });

  it('a spec made to break one rule hundreds of times fails with a bounded list of problems', async () => {
    const { ref, env, activities } = activityRun();
    const acceptance = Array.from({ length: 300 }, () => ({ id: 'A1', given: 'g', when: 'w', then: 't' }));
    const err: unknown = await env.run(activities.validateSpec, { ...ref, specYaml: specYaml({ acceptance }) }).then(
      () => assert.fail('accepted'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof SpecInvalidError, String(err));
    assert.equal(err.problems.length, 101);
    assert.equal(err.problems[100], '… and 199 more');
  });

  it('more than 20 acceptance commands, or one longer than 4096 characters, is a spec problem', async () => {
    const { ref, env, activities } = activityRun();
    const criterion = (i: number, command: string) => ({
      id: `A${i}`,
      given: 'g',
      when: 'w',
      then: 't',
      test_command: command,
    });
    const many = Array.from({ length: 21 }, (_, i) => criterion(i, 'true'));
    await assert.rejects(
      env.run(activities.validateSpec, { ...ref, specYaml: specYaml({ acceptance: many }) }),
      /21 criteria have a test_command; at most 20 may/,
    );
    const long = [criterion(1, `echo ${'x'.repeat(4096)}`)];
    await assert.rejects(
      env.run(activities.validateSpec, { ...ref, specYaml: specYaml({ acceptance: long }) }),
      /test_command: must be at most 4096 characters/,
    );
  });

  it('a refused operation with a path of any length is clipped where it is raised', () => {
    const err = new PolicyViolationError({
      op: 'file_write',
      path: 'p'.repeat(1_000_000),
      reason: 'r'.repeat(100_000),
    });
    assert.ok(err.violation.path.length < 600, `path kept at ${err.violation.path.length}`);
    assert.ok(err.violation.reason.length < 1100);
    assert.ok(err.message.length < 2000);
    assert.deepEqual(err.details?.[0], err.violation);
  });
});
