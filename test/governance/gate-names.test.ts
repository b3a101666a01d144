/**
 * Attack: a submitter replacing the repository's gate with their own. The policy's command
 * gates always run and their names are reserved for the task: a submitter gate named like one
 * (here `tests=true` against the policy's failing `tests`) is refused at submit by the client
 * and the CLI, and — started by hand, bypassing the client — fails the workflow with
 * GateNameReservedError. Arbiter's own gate names are refused by the input schema.
 */
import assert from 'node:assert/strict';
import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { TaskInputSchema, type TaskInput } from '../../domain/task';
import { taskWorkflowId, TASK_WORKFLOW_TYPE } from '../../temporal-config';
import { arbiter, cliEnv } from '../helpers/cli';
import { addScriptedAgent, GOOD_PLAN, gitIn, makeRepo, registerRepo, specYaml, uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { runToEnd } from '../helpers/tasks';
import { assertNotDelivered, policyYaml, specFile } from './helpers';

const FAILING_TESTS = ['node', '-e', "console.error('the repository tests fail'); process.exit(1)"];

/** A tenant with an honest agent and a repository whose policy gate `tests` fails. */
async function setup(): Promise<{
  tenant: string;
  repo: string;
  input: TaskInput & { tenantId: string; taskId: string };
}> {
  const tenant = uniqueId('gov-names');
  await addScriptedAgent(tenant, GOOD_PLAN);
  const repo = makeRepo({
    'src/app.js': 'module.exports = 1;\n',
    '.caws/policy.yaml': policyYaml({ gates: { tests: { mode: 'block', command: FAILING_TESTS } } }),
  });
  const input = {
    tenantId: tenant,
    taskId: uniqueId('task'),
    specYaml: specYaml(),
    repo: await registerRepo(tenant, repo),
    gates: [{ name: 'tests', argv: ['true'] }],
  };
  return { tenant, repo, input };
}

/** No workflow was ever started for the task. */
async function assertNeverStarted(input: { tenantId: string; taskId: string }): Promise<void> {
  await assert.rejects(
    testStack().client.temporal.workflow.getHandle(taskWorkflowId(input)).describe(),
    WorkflowNotFoundError,
    'a refused submission starts no workflow',
  );
}

describe('governance: policy gate names are reserved', function () {
  this.timeout(120_000);

  it('the client refuses a submitter gate named like a policy gate, naming it, and starts nothing', async () => {
    const { repo, input } = await setup();
    const head = gitIn(repo, 'rev-parse', 'HEAD');
    await assert.rejects(testStack().client.submit(input, { localRepoPath: repo }), (err: Error) => {
      assert.match(err.message, /\btests\b/, `the error names the gate: ${err.message}`);
      return true;
    });
    await assertNeverStarted(input);
    assert.equal(gitIn(repo, 'for-each-ref', 'refs/heads/arbiter/'), '');
    assert.equal(gitIn(repo, 'rev-parse', 'HEAD'), head);
  });

  it('the CLI refuses `--gate tests=true`, exits non-zero naming the gate, and starts nothing', async () => {
    const { tenant, repo, input } = await setup();
    const res = await arbiter(
      [
        'submit',
        specFile(input.specYaml),
        '--repo',
        input.repo,
        '--tenant',
        tenant,
        '--task-id',
        input.taskId,
        '--gate',
        'tests=true',
        '--wait',
        '--json',
      ],
      cliEnv(),
    );
    assert.notEqual(res.code, 0, `the CLI must refuse: ${res.stdout}`);
    assert.match(`${res.stderr}\n${res.stdout}`, /\btests\b/, `the CLI names the gate: ${res.stderr}`);
    await assertNeverStarted(input);
    assert.equal(gitIn(repo, 'for-each-ref', 'refs/heads/arbiter/'), '');
  });

  it('started by hand, bypassing the client, the workflow ends FAILED with GateNameReservedError and delivers nothing', async () => {
    const { tenant, repo, input } = await setup();
    const headBefore = gitIn(repo, 'rev-parse', 'HEAD');
    const { client, taskQueue } = testStack();
    await client.temporal.workflow.start(TASK_WORKFLOW_TYPE, {
      workflowId: taskWorkflowId(input),
      taskQueue,
      args: [TaskInputSchema.parse(input)],
    });
    const final = await client.watch(input, undefined, 200);
    assert.equal(final.state, 'FAILED', JSON.stringify({ error: final.error, gates: final.gates }));
    assert.equal(final.error?.type, 'GateNameReservedError');
    assert.match(final.error?.message ?? '', /\btests\b/);
    assert.ok(
      !final.gates.some((g) => g.name === 'tests' && g.status === 'pass'),
      'the submitter gate never stood in for the policy gate',
    );
    assertNotDelivered({ final, input, repo, tenant, headBefore });
  });

  it('without the clash the same task runs the policy gate and fails on it (control: the attack would have paid)', async () => {
    const { repo, input } = await setup();
    const honest = { ...input, taskId: uniqueId('task'), gates: [{ name: 'extra', argv: ['true'] }] };
    const final = await runToEnd(honest);
    assert.equal(final.state, 'FAILED');
    const tests = final.gates.find((g) => g.name === 'tests');
    assert.equal(tests?.status, 'fail');
    assert.equal(tests?.source, 'policy');
    assert.equal(final.gates.find((g) => g.name === 'extra')?.source, 'submitter');
    assert.equal(gitIn(repo, 'for-each-ref', 'refs/heads/arbiter/'), '');
  });

  // Accepted before, it reached the sandbox, which could not start it: the task failed blaming the worker's sandbox.
  it('the client refuses a submitter gate whose argv holds a NUL, naming it, and a run started by hand fails on it at once', async () => {
    const { repo, input } = await setup();
    const bad = { ...input, gates: [{ name: 'check', argv: ['node', '-e', 'process.exit(0)\0'] }] };
    await assert.rejects(testStack().client.submit(bad), (err: Error) => {
      assert.equal(err.name, 'InvalidTaskInputError');
      assert.match(err.message, /gates\.0\.argv\.2: must not contain a NUL character/);
      return true;
    });
    await assertNeverStarted(bad);
    const { client, taskQueue } = testStack();
    const handle = await client.temporal.workflow.start(TASK_WORKFLOW_TYPE, {
      workflowId: taskWorkflowId(bad),
      taskQueue,
      args: [bad],
    });
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError, `the run must fail, it ended with ${String(err)}`);
    assert.match(String(err.cause?.message), /must not contain a NUL character/);
    const history = await handle.fetchHistory();
    const scheduled = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes);
    assert.equal(scheduled.length, 0, 'refused before any step');
    assert.equal(gitIn(repo, 'for-each-ref', 'refs/heads/arbiter/'), '');
  });

  const objectOwn = ['constructor', 'toString', 'hasOwnProperty'];
  for (const name of [
    'budget',
    'scope',
    'spec',
    'protected',
    'tree',
    'acceptance-A1',
    'acceptance-anything',
    ...objectOwn,
  ]) {
    it(`the input schema refuses a submitter gate named '${name}'`, async () => {
      const { input } = await setup();
      const bad = { ...input, gates: [{ name, argv: ['true'] }] };
      assert.equal(TaskInputSchema.safeParse(bad).success, false);
      await assert.rejects(testStack().client.submit(bad), (err: Error) => {
        assert.equal(err.name, 'InvalidTaskInputError');
        assert.ok(err.message.includes(name), err.message);
        return true;
      });
      await assertNeverStarted(bad);
    });
  }
});
