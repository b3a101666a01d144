/**
 * Traces: one real task, submitted through the client and run by a worker whose spans go to an
 * in-process exporter, makes one connected trace: `arbiter submit` at the root, the task's
 * workflow under it, every activity under the workflow, each gate under its activity and each
 * model call, made by the gateway outside the activity's call chain, under the activity that
 * opened its session.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as otel from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { inSpan, registerTracing, type Tracing } from '../../host/tracing';
import { SILENT_LOGGER } from '../../workers/logger';
import { bundleArbiterWorkflows } from '../../workers/workflow-bundle';
import { taskWorkflowId } from '../../temporal-config';
import { startFakeOpenAI, WRITES_FEATURE, type FakeOpenAI } from '../helpers/fake-openai';
import { addOpenAIAgent, makeRepo, registerRepo, specYaml, uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { waitFor } from '../helpers/wait';
import { clientOnQueue, stopWorker } from '../helpers/worker-process';

const KEY_ENV = 'TRACING_FAKE_OPENAI_KEY';

const parentOf = (s: ReadableSpan) => s.parentSpanId;
const idOf = (s: ReadableSpan) => s.spanContext().spanId;

/** The spans named `name`, at least one. */
function named(spans: ReadableSpan[], name: string): ReadableSpan[] {
  const found = spans.filter((s) => s.name === name);
  assert.ok(found.length > 0, `a span named '${name}' (have: ${[...new Set(spans.map((s) => s.name))].join(', ')})`);
  return found;
}

/** The span `child` hangs from, which must be named `name`. */
function assertParent(spans: ReadableSpan[], child: ReadableSpan, name: string | RegExp): void {
  const parent = spans.find((s) => idOf(s) === parentOf(child));
  assert.ok(parent, `${child.name} has its parent in the trace`);
  assert.ok(
    typeof name === 'string' ? parent.name === name : name.test(parent.name),
    `${child.name} hangs from ${String(name)}, not ${parent.name}`,
  );
}

describe('tracing: one task, one connected trace', function () {
  this.timeout(120_000);
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  let fake: FakeOpenAI | undefined;

  before(() => {
    tracing = registerTracing('arbiter-test', new SimpleSpanProcessor(exporter));
  });

  after(async () => {
    await fake?.close();
    await tracing.shutdown();
    otel.trace.disable();
    otel.context.disable();
    otel.propagation.disable();
  });

  it("keeps an error's type and first line only: a failed query's parameters never reach a span", async () => {
    const secret = `prompt-${randomBytes(6).toString('hex')}`;
    const failing = new Error(`Failed query: insert into model_calls values ($1)\nparams: ${secret}`);
    await assert.rejects(
      inSpan('probe', {}, async () => {
        throw failing;
      }),
      failing,
    );
    const [span] = exporter.getFinishedSpans().filter((s) => s.name === 'probe');
    assert.equal(span.status.code, otel.SpanStatusCode.ERROR);
    assert.equal(span.status.message, 'Error: Failed query: insert into model_calls values ($1)');
    assert.ok(!JSON.stringify({ events: span.events, status: span.status }).includes(secret), 'nothing past line 1');
  });

  it('follows a task from submit through its workflow, activities, gates and model calls', async () => {
    const apiKey = `sk-fake-${randomBytes(12).toString('hex')}`;
    process.env[KEY_ENV] = apiKey;
    fake = await startFakeOpenAI({
      apiKey,
      script: WRITES_FEATURE,
    });
    const stack = testStack();
    const tenantId = uniqueId('tenant');
    await addOpenAIAgent(tenantId, fake.baseUrl, KEY_ENV);
    const input = {
      tenantId,
      taskId: uniqueId('task'),
      specYaml: specYaml(),
      repo: await registerRepo(tenantId, makeRepo()),
      gates: [{ name: 'answer', argv: ['node', '-e', 'require("./src/feature.js")() === 42 || process.exit(3)'] }],
    };
    const taskQueue = uniqueId('traced');
    const workflowBundle = await bundleArbiterWorkflows(SILENT_LOGGER, true);
    const worker = await stack.startWorker(taskQueue, stack.home, { tracing, workflowBundle });
    const client = await clientOnQueue(taskQueue);
    try {
      await client.submit(input);
      const final = await client.watch(input, undefined, 200);
      assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
      // The run tidies up after its end state; its own span ends with the run.
      await client.temporal.workflow.getHandle(taskWorkflowId(input)).result();
    } finally {
      await client.close();
      await stopWorker(worker);
    }

    const workflowId = taskWorkflowId(input);
    const [root] = exporter
      .getFinishedSpans()
      .filter((s) => s.name === 'arbiter submit' && s.attributes['arbiter.task_id'] === input.taskId);
    assert.ok(root, 'the submit span was exported');
    assert.equal(parentOf(root), undefined, 'submit is the root');
    const traceId = root.spanContext().traceId;
    await waitFor('the workflow span', async () =>
      exporter
        .getFinishedSpans()
        .some((s) => s.name === 'RunWorkflow:taskLifecycle' && s.attributes.workflowId === workflowId),
    );
    const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);

    const orphans = spans.filter((s) => s !== root && !spans.some((p) => idOf(p) === parentOf(s)));
    assert.deepEqual(
      orphans.map((s) => s.name),
      [],
      'every span hangs from another span of the same trace',
    );
    // Reads and updates (the watcher's queries, its status's describe) belong to their callers'
    // traces, not the submit's.
    const ofTask = exporter
      .getFinishedSpans()
      .filter((s) => s.attributes.workflowId === workflowId || s.attributes.temporalWorkflowId === workflowId)
      .filter(
        (s) =>
          !/^(DescribeWorkflow|QueryWorkflow|HandleQuery|StartWorkflowUpdate|ValidateUpdate|HandleUpdate)(:|$)/.test(
            s.name,
          ),
      );
    assert.ok(ofTask.length > 10, `the task made spans (${ofTask.length})`);
    assert.ok(
      ofTask.every((s) => s.spanContext().traceId === traceId),
      `every span of the task is in the submit trace: ${ofTask
        .filter((s) => s.spanContext().traceId !== traceId)
        .map((s) => s.name)
        .join(', ')}`,
    );

    // The client's start carries the submit span's context in the workflow's headers.
    assertParent(spans, named(spans, 'StartWorkflow:taskLifecycle')[0], 'arbiter submit');
    assertParent(spans, named(spans, 'RunWorkflow:taskLifecycle')[0], 'StartWorkflow:taskLifecycle');
    assertParent(spans, named(spans, 'RunWorkflow:agentConversation')[0], 'StartChildWorkflow:agentConversation');
    for (const activity of ['validateSpec', 'routeTask', 'runGate', 'issueVerdict'])
      assertParent(spans, named(spans, `RunActivity:${activity}`)[0], `StartActivity:${activity}`);
    const gate = named(spans, 'gate').find((s) => s.attributes['arbiter.gate'] === 'answer');
    assert.ok(gate, 'the command gate has its span');
    assertParent(spans, gate, 'RunActivity:runGate');
    assert.equal(gate.attributes['process.exit.code'], 0);
    const calls = named(spans, 'model call');
    assert.equal(calls.length, 2, 'one span per model call');
    for (const call of calls) {
      assertParent(spans, call, 'RunActivity:callModel');
      assert.equal(call.attributes['http.response.status_code'], 200);
    }
    assert.ok(
      spans.every((s) => !JSON.stringify(s.attributes).includes(apiKey)),
      'the model API key is in no span',
    );
  });
});
