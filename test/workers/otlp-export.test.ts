/**
 * Traces over OTLP between real processes: `arbiter submit` (the CLI) and an `arbiter worker`
 * process, both with OTEL_EXPORTER_OTLP_ENDPOINT set, export to a local collector that speaks
 * OTLP/HTTP; the CLI's `arbiter submit` span and the worker's spans of that task arrive in one
 * trace.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import * as path from 'node:path';
import { taskWorkflowId } from '../../temporal-config';
import { arbiter, cliEnv } from '../helpers/cli';
import { addScriptedAgent, GOOD_PLAN, registerRepo, specYaml, tempDir, uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { waitFor } from '../helpers/wait';
import { clientOnQueue, workerProcessPerTest } from '../helpers/worker-process';

/** One exported span, as OTLP/JSON carries it, with the service that sent it. */
interface ExportedSpan {
  service: string;
  name: string;
  traceId: string;
  attributes: Record<string, unknown>;
}

type OtlpValue = { stringValue?: string; intValue?: string | number };
type OtlpAttribute = { key: string; value: OtlpValue };
interface OtlpRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: Array<{ spans?: Array<{ name: string; traceId: string; attributes?: OtlpAttribute[] }> }>;
  }>;
}

const attributesOf = (list: OtlpAttribute[] = []) =>
  Object.fromEntries(list.map((a) => [a.key, a.value.stringValue ?? a.value.intValue]));

/** A collector on loopback that keeps every span posted to /v1/traces (OTLP/HTTP, JSON). */
async function startCollector(): Promise<{ url: string; spans: ExportedSpan[]; server: Server }> {
  const spans: ExportedSpan[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/v1/traces' && /json/.test(req.headers['content-type'] ?? '')) {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpRequest;
        for (const rs of body.resourceSpans ?? []) {
          const service = String(attributesOf(rs.resource?.attributes)['service.name']);
          for (const ss of rs.scopeSpans ?? [])
            for (const s of ss.spans ?? [])
              spans.push({ service, name: s.name, traceId: s.traceId, attributes: attributesOf(s.attributes) });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, spans, server };
}

describe('traces exported over OTLP from the CLI and a worker process', function () {
  this.timeout(120_000);
  const spawnWorker = workerProcessPerTest();

  it("puts the CLI's submit span and the worker's spans of the task in one exported trace", async () => {
    const collector = await startCollector();
    try {
      const stack = testStack();
      const taskQueue = uniqueId('otlp-queue');
      const tenant = uniqueId('tenant');
      await addScriptedAgent(tenant, GOOD_PLAN);
      const repo = await registerRepo(tenant);
      const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_SERVICE_NAME: 'arbiter-test' };
      await spawnWorker(taskQueue, stack.home, otel);
      const spec = path.join(tempDir('otlp-spec-'), 'spec.yaml');
      writeFileSync(spec, specYaml());
      const taskId = uniqueId('task');
      const env = { ...cliEnv(), ARBITER_TASK_QUEUE: taskQueue, ...otel };
      const submitted = await arbiter(
        ['submit', spec, '--repo', repo, '--tenant', tenant, '--task-id', taskId, '--gate', 'ok=true'],
        env,
      );
      assert.equal(submitted.code, 0, submitted.stderr);
      const client = await clientOnQueue(taskQueue);
      try {
        const final = await client.watch({ tenantId: tenant, taskId }, undefined, 200);
        assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
        await client.temporal.workflow.getHandle(final.workflowId).result();
      } finally {
        await client.close();
      }

      const submit = collector.spans.find(
        (s) => s.name === 'arbiter submit' && s.attributes['arbiter.task_id'] === taskId,
      );
      assert.ok(submit, 'the CLI exported its submit span before it exited');
      assert.equal(submit.service, 'arbiter-test');
      const workflowId = taskWorkflowId({ tenantId: tenant, taskId });
      await waitFor('the worker to export the task run', async () =>
        collector.spans.some((s) => s.name === 'RunWorkflow:taskLifecycle' && s.attributes.workflowId === workflowId),
      );
      const run = collector.spans.find(
        (s) => s.name === 'RunWorkflow:taskLifecycle' && s.attributes.workflowId === workflowId,
      );
      assert.equal(run?.traceId, submit.traceId, 'the worker continued the CLI trace');
      const inTrace = new Set(collector.spans.filter((s) => s.traceId === submit.traceId).map((s) => s.name));
      for (const name of ['RunActivity:validateSpec', 'RunActivity:runGate', 'gate', 'RunActivity:issueVerdict'])
        assert.ok(inTrace.has(name), `${name} in the exported trace (have: ${[...inTrace].join(', ')})`);
    } finally {
      collector.server.close();
    }
  });
});
