/**
 * A repository whose gate needs an npm dependency: the policy's setup (`npm ci`) installs it
 * from a real local registry through the gateway, before the agent, and the dependency is then
 * read-only for the agent and for every gate. An agent that overwrites the dependency, or
 * shadows it with a `node_modules` of its own, or rewrites what setup read, gets no PASS; a setup
 * reaching a registry the policy does not list is refused and audited.
 */
import assert from 'node:assert/strict';
import { and, eq } from 'drizzle-orm';
import { sandboxEvents } from '../../db/schema';
import type { ScriptedStep } from '../../domain/agent';
import { addScriptedAgent, makeRepo, registerRepo, specYaml, uniqueId } from '../helpers/fixtures';
import { npmProjectFiles, startFakeRegistry, type FakeRegistry } from '../helpers/fake-registry';
import { testStack } from '../helpers/stack';
import { runToEnd } from '../helpers/tasks';

const DEP = 'arbiter-fake-answer';

/** A repository installing from `from` while its policy lists `listed`. */
const repoFiles = (from: FakeRegistry, listed: FakeRegistry = from) =>
  npmProjectFiles(from, listed, {
    'src/app.js': 'module.exports = () => 0;\n',
    'test.js': `const assert = require('assert');\nassert.equal(require('./src/app')(), require('${DEP}').answer);\nconsole.log('ok');\n`,
  });

const FIX: ScriptedStep = {
  op: 'write',
  path: 'src/app.js',
  content: `module.exports = () => require('${DEP}').answer;\n`,
};

describe('dependencies installed by the policy setup', function () {
  this.timeout(180_000);
  let registry: FakeRegistry;

  before(async () => {
    registry = await startFakeRegistry(DEP, '1.0.0', { 'index.js': 'module.exports = { answer: 42 };\n' });
  });
  after(() => registry.close());

  async function taskWith(steps: ScriptedStep[], from = registry, spec = specYaml()) {
    const tenantId = uniqueId('tenant');
    await addScriptedAgent(tenantId, steps);
    const repo = await registerRepo(tenantId, makeRepo(repoFiles(from, registry)));
    return { tenantId, taskId: uniqueId('task'), specYaml: spec, repo };
  }

  const gatewayEvents = (taskId: string) =>
    testStack()
      .database.db.select()
      .from(sandboxEvents)
      .where(and(eq(sandboxEvents.taskId, taskId), eq(sandboxEvents.kind, 'gateway')));

  it('installs the dependency through the gateway and the gate passes with it', async () => {
    const input = await taskWith([FIX]);
    const snap = await runToEnd(input);
    assert.equal(snap.verdict?.outcome, 'PASS', JSON.stringify(snap.error ?? snap.gates));
    assert.equal(snap.gates.find((g) => g.name === 'tests')?.status, 'pass');
    assert.ok(
      registry.requests.some((r) => r.startsWith(`GET /${DEP}/-/`)),
      registry.requests.join(', '),
    );
    const allowed = (await gatewayEvents(input.taskId)).filter((e) => e.allowed);
    assert.ok(
      allowed.some((e) => e.op === 'http' && e.path?.includes(`/${DEP}`)),
      'the registry request is audited',
    );
  });

  it('refuses an agent that overwrites the installed dependency', async () => {
    const tamper: ScriptedStep = {
      op: 'run',
      argv: [
        'node',
        '-e',
        `require('fs').writeFileSync('node_modules/${DEP}/index.js', 'module.exports = { answer: 0 };')`,
      ],
      timeoutSeconds: 30,
    };
    const snap = await runToEnd(await taskWith([tamper]));
    assert.equal(snap.state, 'FAILED');
    assert.match(snap.error?.message ?? '', /EROFS|read-only file system/i);
  });

  it('fails the change that shadows the dependency with a node_modules of its own', async () => {
    const shadow: ScriptedStep = {
      op: 'write',
      path: `src/node_modules/${DEP}/index.js`,
      content: 'module.exports = { answer: 0 };\n',
    };
    // Unignored, so the shadow is part of the change rather than left behind.
    const unignore: ScriptedStep = { op: 'write', path: '.gitignore', content: '\n' };
    const spec = specYaml({ scope: { in: ['src/', '.gitignore'], out: [] } });
    const snap = await runToEnd(await taskWith([unignore, shadow], registry, spec));
    assert.equal(snap.verdict?.outcome, 'FAIL', JSON.stringify(snap.error));
    const protectedGate = snap.gates.find((g) => g.name === 'protected');
    assert.equal(protectedGate?.status, 'fail');
    assert.match(protectedGate?.detail ?? '', /node_modules/);
  });

  // Every gate ran with what setup installed from the base's lockfile: a rewritten one (here pointing the
  // dependency at another tarball) would have passed gates that never installed it. Found in review.
  it('fails the change that rewrites what setup reads (its lockfile), which no gate ran with', async () => {
    const lock = JSON.parse(repoFiles(registry)['package-lock.json']) as { packages: Record<string, object> };
    const entry = `node_modules/${DEP}`;
    lock.packages[entry] = { ...lock.packages[entry], resolved: 'http://127.0.0.1:9/other.tgz' };
    const rewrite: ScriptedStep = { op: 'write', path: 'package-lock.json', content: JSON.stringify(lock, null, 2) };
    const spec = specYaml({ scope: { in: ['src/', 'package-lock.json'], out: [] } });
    const input = await taskWith([FIX, rewrite], registry, spec);
    const snap = await runToEnd(input);
    assert.equal(snap.verdict?.outcome, 'FAIL', JSON.stringify(snap.error));
    assert.equal(snap.gates.find((g) => g.name === 'tests')?.status, 'pass', 'the gate passed with the base install');
    const protectedGate = snap.gates.find((g) => g.name === 'protected');
    assert.match(protectedGate?.detail ?? '', /protected path\(s\) changed: package-lock\.json/);
    assert.equal(snap.delivery, null);
  });

  it('refuses and audits a setup that reaches a registry the policy does not list', async () => {
    const other = await startFakeRegistry(DEP, '1.0.0', { 'index.js': 'module.exports = { answer: 42 };\n' });
    try {
      const input = await taskWith([FIX], other);
      const snap = await runToEnd(input);
      assert.equal(snap.state, 'FAILED');
      assert.match(snap.error?.message ?? '', /setup failed/);
      assert.deepEqual(other.requests, [], 'the unlisted registry was never reached');
      const refused = (await gatewayEvents(input.taskId)).filter((e) => !e.allowed);
      assert.ok(
        refused.some((e) => e.path?.includes(other.url.replace('http://', ''))),
        'the refusal is audited',
      );
    } finally {
      await other.close();
    }
  });
});
