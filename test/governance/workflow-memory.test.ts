/**
 * Attack: exhausting the workflow thread's heap. Every cached run lives in the worker's workflow
 * thread, whose heap is capped (ARBITER_WORKFLOW_HEAP_MB); when it runs out the worker stops,
 * and after a restart the same runs replay into the same exhaustion. So nothing a submitter, an
 * agent or a model controls may grow a run's workflow state without bound: the task input is
 * capped, a spec's YAML may not expand past a limit, the validation result the run keeps holds
 * only the spec's essentials, and refused operations, tool calls and path lists are clipped.
 * The same submitter can try to stall the worker's main thread instead: a scope glob whose
 * regex backtracks (picomatch compiles globs to regexes) is refused before anything matches it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { keptToolCalls } from '../../activities/model-reply';
import { MAX_EXPANDED_CHARACTERS, MAX_EXPANDED_NODES } from '../../activities/spec-yaml';
import type { ValidateSpecResult } from '../../domain/activity-io';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { scopeViolations } from '../../domain/change-gates';
import { boundedProblems, clipText } from '../../domain/bounds';
import { PolicyViolationError, SpecInvalidError } from '../../domain/errors';
import type { WorkingSpec } from '../../domain/spec';
import { scopeMatcher } from '../../domain/scope-match';
import { treeProblems } from '../../domain/tree-rules';
import { GitCommandError } from '../../host/git';
import { describeFailure } from '../../workflows/failures';
import { TaskInputSchema } from '../../domain/task';
import { zodProblems } from '../../domain/zod-issues';
import { executeToolCall } from '../../host/sandbox/tool-calls';
import { writeRefusal } from '../../host/sandbox/write-policy';
import { TASK_WORKFLOW_TYPE, taskWorkflowId } from '../../temporal-config';
import { SILENT_LOGGER } from '../../workers/logger';
import { addScriptedAgent, GOOD_PLAN, goodTaskInput, specYaml, taskInput, uniqueId } from '../helpers/fixtures';
import { waitFor, waitForState } from '../helpers/wait';
import { nodeStep } from './helpers';
import { testActivityDeps, testStack } from '../helpers/stack';
import { runToEnd } from '../helpers/tasks';
import { ownTask } from '../helpers/tasks';

/** A sandbox policy admitting `glob` (and nothing else), at tier 3. */
function policyWith(glob: string) {
  return { scopeIn: [glob], scopeOut: [], riskTier: 3, allowShell: false };
}

/** A task run as the server reports it to the activities it schedules, the task recorded as its. */
async function activityRun() {
  const ref = { tenantId: uniqueId('heap'), taskId: uniqueId('task') };
  const env = new MockActivityEnvironment(
    { workflowExecution: { workflowId: taskWorkflowId(ref), runId: uniqueId('run') } },
    { logger: SILENT_LOGGER },
  );
  await ownTask(env, ref);
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

/** A spec whose one contract holds `depth` levels of block mappings. */
function withBlockNesting(depth: number): string {
  const lines = Array.from({ length: depth }, (_, i) => `${' '.repeat(4 + 2 * i)}k${i}:`);
  return specWithContractValue(`\n${lines.join('\n')}\n${' '.repeat(4 + 2 * depth)}v`);
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
  // No test times its step (a slow machine is not a defect): each bound shows in its refusal's
  // words, and a step without its bound runs past this timeout.
  this.timeout(120_000);

  it('a submitter cannot send an oversized spec, baseRef or gate argv: the input is refused, naming the field', () => {
    const base = { tenantId: 't', taskId: 'k', specYaml: specYaml(), repo: 'app' };
    const refused = (extra: Record<string, unknown>, pattern: RegExp) => {
      const result = TaskInputSchema.safeParse({ ...base, ...extra });
      assert.ok(!result.success, `accepted ${JSON.stringify(Object.keys(extra))}`);
      assert.match(JSON.stringify(result.error.issues), pattern);
    };
    refused({ specYaml: `${specYaml()}#${'x'.repeat(64 * 1024)}\n` }, /spec is longer than 65536 characters/);
    refused({ baseRef: 'r'.repeat(256) }, /baseRef is longer than 255/);
    refused({ gates: [{ name: 'g', argv: ['node', 'x'.repeat(4097)] }] }, /longer than 4096 characters/);
    refused({ gates: [{ name: 'g', argv: Array(65).fill('x') }] }, /more than 64 arguments/);
    const wide = Array.from({ length: 5 }, (_, i) => ({ name: `g${i}`, argv: ['node', 'x'.repeat(4000)] }));
    refused({ gates: wide }, /gate arguments total more than 16384 characters/);
    assert.ok(TaskInputSchema.safeParse({ ...base, gates: wide.slice(0, 4), baseRef: 'main' }).success);
  });

  it('started by hand with a 70 KiB spec, bypassing the client, the run fails at once naming the limit', async () => {
    const input = { ...(await goodTaskInput()), specYaml: `${specYaml()}# ${'x'.repeat(70 * 1024)}\n` };
    const { client, taskQueue } = testStack();
    await assert.rejects(client.submit(input), /spec is longer than 65536 characters/);
    const handle = await client.temporal.workflow.start(TASK_WORKFLOW_TYPE, {
      workflowId: taskWorkflowId(input),
      taskQueue,
      args: [input],
    });
    await assert.rejects(handle.result(), (err: Error) => {
      assert.match(String((err as { cause?: Error }).cause?.message), /spec is longer than 65536 characters/);
      return true;
    });
    const events = (await handle.fetchHistory()).events ?? [];
    assert.ok(
      !events.some(
        (e) =>
          e.activityTaskScheduledEventAttributes ||
          e.markerRecordedEventAttributes?.markerName === 'core_local_activity',
      ),
      'no step ran',
    );
  });

  it('a cancel signal with a 1 MB reason cancels the task and keeps 500 characters of it', async () => {
    const tenantId = uniqueId('heap');
    await addScriptedAgent(tenantId, [nodeStep('setTimeout(() => {}, 20000)'), ...GOOD_PLAN]);
    const input = await taskInput(tenantId);
    const { client } = testStack();
    await client.submit(input);
    await waitForState(input, (s) => s.state === 'EXECUTING', 60_000);
    await client.temporal.workflow.getHandle(taskWorkflowId(input)).signal('cancel', { reason: 'r'.repeat(1_000_000) });
    const final = await client.watch(input, undefined, 200);
    assert.equal(final.state, 'CANCELLED');
    const note = final.history[final.history.length - 1].note ?? '';
    assert.ok(note.startsWith('rrrr') && note.length < 600, `kept ${note.length} characters`);
  });

  it('a 1 MB signal under a name no handler takes is dropped, logged by name, and the task goes on', async () => {
    const tenantId = uniqueId('heap');
    await addScriptedAgent(tenantId, [nodeStep('setTimeout(() => {}, 3000)'), ...GOOD_PLAN]);
    const input = await taskInput(tenantId);
    const { client, workerLog } = testStack();
    await client.submit(input);
    await waitForState(input, (s) => s.state === 'EXECUTING', 60_000);
    const workflowId = taskWorkflowId(input);
    await client.temporal.workflow.getHandle(workflowId).signal('no-such-signal', 'x'.repeat(1_000_000));
    await waitFor('the worker to log the dropped signal', async () =>
      readFileSync(workerLog, 'utf8')
        .split('\n')
        .some((line) => line.includes(`"workflowId":"${workflowId}"`) && line.includes('"signal":"no-such-signal"')),
    );
    const final = await client.watch(input, undefined, 200);
    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
  });

  // Decoded by the SDK before any handler (ours or the default one) sees it: the workflow task failed, and failed
  // again on every retry of the same signal, so the run never ended and held its agent's capacity.
  it('a signal no handler could be given (its payload undecodable, its name reserved) is dropped, and the task goes on', async () => {
    const tenantId = uniqueId('undecodable');
    await addScriptedAgent(tenantId, [nodeStep('setTimeout(() => {}, 3000)'), ...GOOD_PLAN]);
    const input = await taskInput(tenantId);
    const { client } = testStack();
    await client.submit(input);
    await waitForState(input, (s) => s.state === 'EXECUTING', 60_000);
    const workflowId = taskWorkflowId(input);
    const bad = [
      { metadata: { encoding: Buffer.from('binary/x') }, data: Buffer.from('x') },
      { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('{') },
    ];
    for (const [signalName, payload] of [
      ['cancel', bad[0]],
      ['approversChanged', bad[1]],
      ['no-such-signal', bad[1]],
      ['__temporal_anything', { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('1') }],
    ] as const)
      await client.temporal.workflowService.signalWorkflowExecution({
        namespace: client.temporal.options.namespace,
        workflowExecution: { workflowId },
        signalName,
        input: { payloads: [payload] },
        identity: 'insider',
      });
    const final = await client.watch(input, undefined, 200);
    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    const events = (await client.temporal.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    assert.equal(events.filter((e) => e.workflowTaskFailedEventAttributes).length, 0, 'no workflow task failed');
  });

  it('an alias tree of empty lists, which the parser’s alias limit does not count, is REJECTED at once', async () => {
    const input = { ...(await goodTaskInput()), specYaml: specWithContractValue('*a12', emptyListAliasTree(12)) };
    const final = await runToEnd(input);
    assert.equal(final.state, 'REJECTED', JSON.stringify(final.error));
    assert.equal(final.error?.type, 'SpecInvalidError');
    assert.match(final.error?.problems?.join('; ') ?? '', new RegExp(`more than ${MAX_EXPANDED_NODES} values`));
  });

  // Found in review: counting values alone, 99 aliases of one 64 KiB string in a field the prompt does
  // not carry were stored as a 19 MB spec, read again by every step and tool call of the task.
  it('aliases of a long string are refused past the expanded text limit, before anything is stored', async () => {
    const { ref, env, activities } = await activityRun();
    const aliases = Array(99).fill('*s').join(', ');
    const base = specYaml({ non_functional: { performance: ['PLACEHOLDER'] } }).replace(
      /performance:\n\s*- PLACEHOLDER/,
      `performance: [${aliases}]`,
    );
    const text = `x-big: &s "${'\u4e2d'.repeat(64 * 1024 - base.length - 32)}"\n${base}`;
    assert.ok(TaskInputSchema.safeParse({ tenantId: 't', taskId: 'k', specYaml: text, repo: 'app' }).success);
    await assert.rejects(
      env.run(activities.validateSpec, { ...ref, specYaml: text }),
      (err: Error) =>
        err instanceof SpecInvalidError &&
        new RegExp(`more than ${MAX_EXPANDED_CHARACTERS} characters`).test(err.message),
    );
    // The same string used once is a spec like any other.
    const once = text.replace(`[${aliases}]`, '[*s]');
    const result = (await env.run(activities.validateSpec, { ...ref, specYaml: once })) as ValidateSpecResult;
    assert.equal(result.spec.id, 'TEST-001');
  });

  it('a spec nested deeper than any CAWS field is refused as unreadable; a real-size alias use still validates', async () => {
    const { ref, env, activities } = await activityRun();
    const deep = specWithContractValue(`${'['.repeat(40)}${']'.repeat(40)}`);
    const tooDeep = /nests more than 32 levels deep/;
    await assert.rejects(env.run(activities.validateSpec, { ...ref, specYaml: deep }), tooDeep);
    // A thousand levels overflowed the parser's stack, and a second such parse aborted the process;
    // quotes, tags and anchors hid levels from a scan of the text.
    const crashes = [
      `${'['.repeat(2000)}${']'.repeat(2000)}`,
      `${'- '.repeat(1000)}x`,
      `${'? !t '.repeat(3000)}1\n`,
      `${'? &a '.repeat(3000)}1\n`,
      `x: ${'["]",'.repeat(3000)}1${']'.repeat(3000)}`,
    ];
    for (let round = 0; round < 2; round++)
      for (const text of crashes)
        await assert.rejects(env.run(activities.validateSpec, { ...ref, specYaml: text }), tooDeep);
    // A line of 65,536 errors, ten thousand keys: seconds of the parser's own error reports and key checks.
    const slow: Array<[string, RegExp]> = [
      [']'.repeat(65_536), /YAML: Unexpected flow-seq-end token .* at line 1/],
      [`{${Array.from({ length: 10_000 }, (_, i) => `k${i}`).join(',')}}`, /more than 2000 entries/],
    ];
    for (const [text, problem] of slow) {
      await assert.rejects(env.run(activities.validateSpec, { ...ref, specYaml: text }), problem);
    }
    // YAML 1.1's !!omap makes a Map, inside which an alias tree of a billion values hid from the expansion check.
    let omap = `%YAML 1.1\n---\n!!omap\n- l0: &l0 [${Array(10).fill('[]').join(',')}]\n`;
    for (let i = 1; i <= 8; i++)
      omap += `- l${i}: &l${i} [${Array(10)
        .fill(`*l${i - 1}`)
        .join(',')}]\n`;
    await assert.rejects(env.run(activities.validateSpec, { ...ref, specYaml: omap }), /!!omap, !!pairs or !!set/);
    const blocks = withBlockNesting(40);
    await assert.rejects(env.run(activities.validateSpec, { ...ref, specYaml: blocks }), /nests more than 32 levels/);
    const modest = specWithContractValue('*a3', emptyListAliasTree(3));
    const ok: ValidateSpecResult = await env.run(activities.validateSpec, { ...ref, specYaml: modest });
    assert.equal(ok.spec.id, 'TEST-001');
  });

  it('the validation result a run keeps holds the spec’s essentials only, however much else the spec says', async () => {
    const { ref, env, activities } = await activityRun();
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
    assert.deepEqual(Object.keys(result.spec).sort(), [
      'acceptance',
      'format',
      'hasContract',
      'id',
      'mode',
      'riskTier',
      'title',
    ]);
    assert.ok(result.specRef, 'the whole spec is stored, by reference');
  });

  it('a spec made to break one rule hundreds of times fails with a bounded list of problems', async () => {
    const { ref, env, activities } = await activityRun();
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
    const { ref, env, activities } = await activityRun();
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

  it('a scope glob built to backtrack (extglobs, many stars, a negation) is a spec problem, and matching stays fast', async () => {
    const { ref, env, activities } = await activityRun();
    const grammar = /uses glob syntax Arbiter does not match/;
    const cases: Array<[string, RegExp]> = [
      [`${'@(*)'.repeat(13)}Q`, grammar],
      ['((([^x])+)+)+x', grammar],
      [`src/${'{a,aa}'.repeat(30)}b`, grammar],
      [`src/${'*a'.repeat(16)}b`, /has 16 wildcards; at most 3 are matched/],
      ['src/*a*a*b', /more than 2 wildcards in one name \('\*a\*a\*b'\)/],
      ['**/a/**/b', /has 2 '\*\*'; at most 1 is matched/],
      ['!src/secret/**', /starts with '!'/],
      [`src/${'x'.repeat(300)}`, /longer than 256 characters/],
    ];
    for (const [glob, problem] of cases) {
      const text = specYaml({ scope: { in: ['src/', glob], out: [] } });
      await assert.rejects(env.run(activities.validateSpec, { ...ref, specYaml: text }), problem);
    }
    assert.equal(
      writeRefusal(`src/${'a'.repeat(250)}!`, policyWith('src/*a*a*ab')),
      `'src/${'a'.repeat(250)}!' is not in scope.in`,
    );
  });

  it('a scope list of more than 200 entries is a spec problem', async () => {
    const { ref, env, activities } = await activityRun();
    const many = Array.from({ length: 201 }, (_, i) => `src/f${i}.js`);
    const text = specYaml({ scope: { in: many, out: [] } });
    await assert.rejects(
      env.run(activities.validateSpec, { ...ref, specYaml: text }),
      /scope: 201 entries in in, support and out together; at most 200/,
    );
  });

  it('a glob a run validated before the grammar still holds is never compiled, and fails closed', () => {
    const legacy = ['((a)+)+b', 'src/**'];
    assert.equal(scopeMatcher(legacy, { outsideGrammar: false })(`${'a'.repeat(40)}c`), false, 'admits nothing');
    assert.equal(scopeMatcher(legacy, { outsideGrammar: false })('src/x.js'), true, 'the rest still match');
    assert.equal(scopeMatcher(legacy, { outsideGrammar: true })('docs/x.md'), true, 'excludes everything');
  });

  it('ten thousand long symlinks, or links bouncing between two 4 KB targets, are refused by a bounded resolution', () => {
    const target = `${'x/'.repeat(800)}${'../'.repeat(800)}l`;
    const many = Array.from({ length: 10_000 }, (_, i) => ({ mode: '120000', path: `l${i}`, target }));
    const bouncing = [
      { mode: '120000', path: 's', target: `t${'/'.repeat(4093)}` },
      { mode: '120000', path: 't', target: `s${'/'.repeat(4093)}` },
      ...Array.from({ length: 600 }, (_, i) => ({ mode: '120000', path: `c${i}`, target: 's' })),
    ];
    for (const items of [many, bouncing]) {
      const problems = treeProblems(items, new Set(items.map((i) => i.path)), { allowSymlinks: true });
      assert.ok(
        problems.some((p) => /too many or too long to resolve/.test(p)),
        problems[0],
      );
    }
  });

  it('the scope gate stops at a bounded amount of matching: crafted globs against long agent paths', () => {
    const scope = (c: string) => Array.from({ length: 100 }, (_, i) => `*a*/**/${c}${i}`);
    const spec = { scope: { in: scope('b'), out: scope('c') } } as unknown as WorkingSpec;
    const paths = Array.from({ length: 50 }, (_, i) => `${`${'a'.repeat(254)}/`.repeat(16)}c${i}x`);
    const found = scopeViolations(spec, paths);
    assert.deepEqual(found, ['the change names 50 paths, too many and too long to check against 200 scope globs']);
    const ordinary = { scope: { in: ['src/**'], out: ['src/secret/**'] } } as unknown as WorkingSpec;
    assert.deepEqual(scopeViolations(ordinary, ['src/a.js', 'src/secret/k', 'docs/x']), [
      'src/secret/k (matches scope.out)',
      'docs/x (not in scope.in)',
    ]);
  });

  it('a value clipped or bounded twice keeps the first count of what was cut', () => {
    const once = clipText('p'.repeat(4000), 256);
    assert.equal(clipText(once, 256), once);
    assert.match(once, /… \(3744 more characters\)$/);
    const problems = boundedProblems(Array(5000).fill('x'));
    assert.deepEqual(boundedProblems(problems), problems);
    assert.equal(problems[100], '… and 4900 more');
  });

  it('input that breaks one rule a million times is reported in 21 lines', () => {
    const result = z.array(z.string()).safeParse(Array(1_000_000).fill(0));
    assert.ok(!result.success);
    const problems = zodProblems(result.error);
    assert.equal(problems.length, 21);
    assert.equal(problems[20], '… and 999980 more');
  });

  it('a model’s run_command with a million-element argv is refused by its length, in milliseconds', async () => {
    const unused = () => assert.fail('nothing runs');
    const result = await executeToolCall({
      tools: new Proxy({}, { get: unused }) as never,
      runCommand: unused,
      input: {
        tenantId: 't',
        taskId: 'k',
        workspacePath: '/nonexistent',
        spec: { scope: { in: [], out: [] }, riskTier: 3 } as never,
        name: 'run_command',
        arguments: JSON.stringify({ argv: Array(1_000_000).fill(0) }),
      },
    });
    assert.equal(result.ok, false);
    assert.match(result.content, /argv must be a list of at most 1024 arguments/);
    assert.ok(result.content.length < 1_000);
  });

  it('model-chosen tool-call ids that collide with the ones Arbiter assigns still come out unique', () => {
    const call = (id: string) => ({ id, type: 'function', function: { name: 'file_read', arguments: '{}' } });
    const ids = (calls: string[]) => (keptToolCalls(calls.map(call), 1) ?? []).map((c) => c.id);
    assert.deepEqual(ids(['arbiter_1_1', 'bad id!']), ['arbiter_1_1', 'arbiter_1_1_']);
    assert.deepEqual(ids(['bad id!', 'arbiter_1_0']), ['arbiter_1_0_', 'arbiter_1_0']);
    assert.deepEqual(ids(['same', 'same']), ['same', 'arbiter_1_1']);
    const many = ids(Array(40).fill('x'.repeat(100)));
    assert.equal(many.length, 32);
    assert.equal(new Set(many).size, 32);
  });

  it('a failure of any size, or a violation of any shape, is kept clipped (a git error can quote every path an agent made)', () => {
    const huge = ApplicationFailure.create({ message: 'm'.repeat(1_000_000), type: 'GitCommandError' });
    assert.ok(describeFailure(huge).message.length < 2_100);
    const git = new GitCommandError(
      ['add', ...Array(5000).fill(`:(exclude,literal)${'n'.repeat(200)}`)],
      'e'.repeat(1e6),
    );
    assert.ok(git.message.length < 3_200, `git error message kept at ${git.message.length}`);
    const odd = ApplicationFailure.create({ type: PolicyViolationError.type, details: [{ op: 1, path: null }] });
    assert.deepEqual(describeFailure(odd).violation, { op: '1', path: 'null', reason: 'undefined' });
    const listed = ApplicationFailure.create({ type: SpecInvalidError.type, details: [Array(500).fill('p')] });
    assert.equal(describeFailure(listed).problems?.length, 101);
  });
});
