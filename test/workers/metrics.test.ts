/**
 * Metrics: an `arbiter worker` process with ARBITER_METRICS_ADDRESS serves Prometheus text on
 * `/metrics`. After it runs one real task, the scrape holds the SDK's metrics under the names
 * Temporal's alerting guidance assumes (`_total` counters, durations in seconds) and Arbiter's
 * own, with the task's transitions, gates, verdict and routing counted once each.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { HAPPY_PATH } from '../../domain/lifecycle';
import { KNOWN_METRICS, type KnownMetric } from '../deploy/known-metrics';
import { startFakeOpenAI } from '../helpers/fake-openai';
import { addOpenAIAgent, taskInput, uniqueId } from '../helpers/fixtures';
import { freePort, testStack } from '../helpers/stack';
import { waitFor } from '../helpers/wait';
import { clientOnQueue, workerProcessPerTest } from '../helpers/worker-process';

/** One sample line: its metric name, labels and value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text exposition into samples (comments skipped). */
function parseExposition(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
      assert.ok(m, `a sample line: ${line}`);
      const labels = Object.fromEntries(
        [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
      );
      return { name: m[1], labels, value: Number(m[3]) };
    });
}

/** The sum of `name`'s samples whose labels include `labels`. */
function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);
}

const KEY_ENV = 'METRICS_FAKE_OPENAI_KEY';

/** Runs one task on a worker process serving metrics; returns what it scrapes once the task is counted. */
async function taskThenScrape(spawnWorker: ReturnType<typeof workerProcessPerTest>) {
  const stack = testStack();
  const port = await freePort();
  const taskQueue = uniqueId('metrics-queue');
  const tenantId = uniqueId('tenant');
  const apiKey = `sk-fake-${randomBytes(12).toString('hex')}`;
  const fake = await startFakeOpenAI({
    apiKey,
    script: [
      // Refused by the file tools (outside the workspace): one sandbox refusal.
      { toolCalls: [{ name: 'file_write', arguments: { path: '../outside.js', content: 'x' } }], usage: USAGE },
      { toolCalls: [{ name: 'file_write', arguments: { path: 'src/feature.js', content: FEATURE } }], usage: USAGE },
      { content: 'Done.', usage: USAGE },
    ],
  });
  try {
    const agent = await addOpenAIAgent(tenantId, fake.baseUrl, KEY_ENV);
    const input = { ...(await taskInput(tenantId)), gates: [{ name: 'ok', argv: ['true'] }] };
    await spawnWorker(taskQueue, stack.home, {
      ARBITER_METRICS_ADDRESS: `127.0.0.1:${port}`,
      [KEY_ENV]: apiKey,
      ARBITER_MODEL_KEYS: `${KEY_ENV}@127.0.0.1`,
    });
    const client = await clientOnQueue(taskQueue);
    try {
      await client.submit(input);
      const final = await client.watch(input, undefined, 200);
      assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
      await client.temporal.workflow.getHandle(final.workflowId).result();
    } finally {
      await client.close();
    }
    let samples: Sample[] = [];
    let text = '';
    await waitFor('the run counted as completed', async () => {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      assert.equal(res.status, 200);
      text = await res.text();
      samples = parseExposition(text);
      return total(samples, 'temporal_workflow_completed_total') >= 1;
    });
    return { samples, text, agentId: agent.id, apiKey };
  } finally {
    await fake.close();
  }
}

const USAGE = { prompt: 1000, completion: 100 };
const FEATURE = 'module.exports = () => 42;\n';

describe('metrics: a worker process serves Prometheus metrics', function () {
  this.timeout(120_000);
  const spawnWorker = workerProcessPerTest();

  it('after a real task, has the SDK metrics with Temporal suffixes and counts the task once in Arbiter metrics', async () => {
    const { samples, text, agentId, apiKey } = await taskThenScrape(spawnWorker);
    const names = new Set(samples.map((s) => s.name));
    // What the dashboard and alert rules name (ops/, test/deploy/known-metrics.ts) is really served.
    const served = (m: KnownMetric) =>
      m.type === 'histogram' ? names.has(`${m.name}_bucket`) && names.has(`${m.name}_sum`) : names.has(m.name);
    const missing = KNOWN_METRICS.filter((m) => ['arbiter', 'sdk'].includes(m.source) && !m.onlyAfter)
      .filter((m) => !served(m))
      .map((m) => m.name);
    assert.deepEqual(missing, [], 'every worker metric ops/ names is scraped');
    assert.ok(
      [...names].every((n) => !/_milliseconds/.test(n)),
      'durations are in seconds',
    );
    // This worker process ran this one task: every count is exact.
    for (const state of HAPPY_PATH)
      assert.equal(total(samples, 'arbiter_task_state_entered_total', { state }), 1, `entered ${state} once`);
    assert.equal(total(samples, 'arbiter_tasks_ended_total', { outcome: 'COMPLETED' }), 1);
    assert.equal(total(samples, 'arbiter_task_duration_seconds_count', { outcome: 'COMPLETED' }), 1);
    assert.equal(total(samples, 'arbiter_verdicts_total', { verdict: 'PASS' }), 1);
    assert.equal(total(samples, 'arbiter_gate_results_total', { kind: 'command', status: 'pass' }), 1);
    assert.equal(total(samples, 'arbiter_gate_results_total', { kind: 'budget', status: 'pass' }), 1);
    assert.equal(total(samples, 'arbiter_routing_decisions_total', { agent: agentId }), 1);
    assert.equal(total(samples, 'arbiter_sandbox_refusals_total', { kind: 'file' }), 1);
    assert.equal(total(samples, 'arbiter_sandbox_available'), 1);
    assert.equal(total(samples, 'arbiter_task_tokens_sum', { agent: agentId }), 3 * 1100);
    const cost = total(samples, 'arbiter_task_cost_usd_sum', { agent: agentId });
    assert.ok(Math.abs(cost - (3 * (1000 * 3 + 100 * 15)) / 1e6) < 1e-9, `cost by agent: ${cost}`);
    assert.equal(total(samples, 'arbiter_workflow_history_size_bytes_count'), 1);
    assert.ok(total(samples, 'arbiter_workflow_history_size_bytes_sum') > 1000, 'history size in bytes');
    assert.ok(total(samples, 'arbiter_workflow_history_events_sum') > 20, 'history length in events');
    assert.ok(!text.includes(apiKey), 'no secret in the metrics');
  });
});
