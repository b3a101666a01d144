/**
 * The `arbiter` CLI as a user runs it, against the real test stack: the commands and `--json`
 * shapes DESIGN.md calls a contract, and the exit codes (0 ok, 1 failed, 2 bad usage).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { arbiter, cliEnv } from '../helpers/cli';
import { GOOD_PLAN, registerRepo, specYaml, uniqueId } from '../helpers/fixtures';
import { tempDir } from '../helpers/temp';

function writeSpec(yaml = specYaml()): string {
  const file = path.join(tempDir('arbiter-spec-'), 'spec.yaml');
  writeFileSync(file, yaml);
  return file;
}

describe('arbiter CLI', function () {
  this.timeout(120_000);
  const tenant = uniqueId('cli-tenant');
  const agentId = uniqueId('cli-agent');

  it('agents add and list --json register and show an agent', async () => {
    const env = cliEnv();
    const add = await arbiter(
      [
        'agents',
        'add',
        '--id',
        agentId,
        '--kind',
        'scripted',
        '--tenant',
        tenant,
        '--task-types',
        'feature',
        '--max-concurrency',
        '3',
        '--config',
        JSON.stringify({ steps: GOOD_PLAN }),
        '--json',
      ],
      env,
    );
    assert.equal(add.code, 0, add.stderr);
    assert.equal(JSON.parse(add.stdout).id, agentId);
    const list = await arbiter(['agents', 'list', '--tenant', tenant, '--json'], env);
    assert.equal(list.code, 0, list.stderr);
    const mine = (
      JSON.parse(list.stdout) as Array<{ id: string; maxConcurrency: number; capabilities: { taskTypes: string[] } }>
    ).find((a) => a.id === agentId);
    assert.equal(mine?.maxConcurrency, 3);
    assert.deepEqual(mine?.capabilities.taskTypes, ['feature']);
    const pause = await arbiter(['agents', 'pause', agentId], env);
    assert.equal(pause.code, 0, pause.stderr);
    assert.match(pause.stdout, /paused/);
    const resume = await arbiter(['agents', 'resume', agentId], env);
    assert.match(resume.stdout, /active/);
  });

  it('agents add refuses an invalid agent with the problem named (exit 2)', async () => {
    const bad = await arbiter(
      ['agents', 'add', '--id', uniqueId('bad'), '--kind', 'scripted', '--config', '{"steps":[]}'],
      cliEnv(),
    );
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /config\.steps: a scripted plan needs at least one step/);
  });

  it('submit --candidates 2 runs two candidates; status shows them side by side, with the one chosen', async () => {
    const env = cliEnv();
    const taskId = uniqueId('cli-best-of');
    const repo = await registerRepo(tenant);
    const args = ['submit', writeSpec(), '--repo', repo, '--tenant', tenant, '--task-id', taskId, '--agent', agentId];
    const bad = await arbiter([...args, '--candidates', 'two'], env);
    assert.equal(bad.code, 2, bad.stdout);
    assert.match(bad.stderr, /--candidates must be a whole number/);
    const submit = await arbiter([...args, '--candidates', '2', '--wait', '--json'], env);
    assert.equal(submit.code, 0, submit.stderr + submit.stdout);
    const { status } = JSON.parse(submit.stdout);
    assert.equal(status.candidates.length, 2);
    assert.equal(status.candidates.filter((c: { chosen?: boolean }) => c.chosen).length, 1);
    assert.match(status.candidateChoice, /^candidate \d \(/);
    const text = await arbiter(['status', `${tenant}/${taskId}`], env);
    assert.match(text.stdout, /candidate 1 \S+: COMPLETED PASS, 1 file\(s\) 1 line\(s\)/);
    assert.match(text.stdout, /candidate 2 \S+: COMPLETED PASS/);
    assert.match(text.stdout, /chosen +candidate \d/);
  });

  it('submit --wait --json runs a task to COMPLETED and status --json has the contract fields', async () => {
    const env = cliEnv();
    const taskId = uniqueId('cli-task');
    const repo = await registerRepo(tenant);
    const submit = await arbiter(
      [
        'submit',
        writeSpec(),
        '--repo',
        repo,
        '--tenant',
        tenant,
        '--task-id',
        taskId,
        '--agent',
        agentId,
        '--gate',
        'check=node -e "process.exit(0)"',
        '--wait',
        '--json',
      ],
      env,
    );
    assert.equal(submit.code, 0, submit.stderr + submit.stdout);
    const submitted = JSON.parse(submit.stdout);
    assert.equal(submitted.attached, false);
    assert.equal(submitted.status.state, 'COMPLETED');

    const status = await arbiter(['status', `${tenant}/${taskId}`, '--json'], env);
    assert.equal(status.code, 0, status.stderr);
    const s = JSON.parse(status.stdout);
    assert.equal(s.taskId, taskId);
    assert.equal(s.tenantId, tenant);
    assert.equal(s.workflowId, `task/${tenant}/${taskId}`);
    assert.equal(s.state, 'COMPLETED');
    assert.equal(s.specId, 'TEST-001');
    assert.equal(s.riskTier, 3);
    assert.equal(s.agentId, agentId);
    assert.equal(s.pendingWaiver, null);
    assert.equal(s.error, null);
    assert.equal(s.verdict.outcome, 'PASS');
    assert.match(s.verdict.digest, /^sha256:/);
    assert.deepEqual(
      s.gates.map((g: { name: string; status: string }) => [g.name, g.status]),
      [
        ['budget', 'pass'],
        ['scope', 'pass'],
        ['spec', 'pass'],
        ['protected', 'pass'],
        ['tree', 'pass'],
        ['check', 'pass'],
      ],
    );
    assert.equal(s.history.length, 10);
    for (const h of s.history) assert.ok(h.state && !Number.isNaN(Date.parse(h.at)), JSON.stringify(h));

    const again = await arbiter(['submit', writeSpec(), '--repo', repo, '--tenant', tenant, '--task-id', taskId], env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^attached to task\//);

    const watch = await arbiter(['watch', taskId, '--tenant', tenant], env);
    assert.equal(watch.code, 0, watch.stderr);
    assert.match(watch.stdout, /VALIDATING_SPEC[\s\S]*COMPLETED/);
  });

  it('status --json lists the policy violations of a task whose agent wrote out of scope', async () => {
    const env = cliEnv();
    const rogue = uniqueId('rogue');
    const add = await arbiter(
      [
        'agents',
        'add',
        '--id',
        rogue,
        '--kind',
        'scripted',
        '--tenant',
        tenant,
        '--config',
        JSON.stringify({ steps: [{ op: 'write', path: 'etc/passwd', content: 'x' }] }),
      ],
      env,
    );
    assert.equal(add.code, 0, add.stderr);
    const taskId = uniqueId('cli-rogue');
    const submit = await arbiter(
      [
        'submit',
        writeSpec(),
        '--repo',
        await registerRepo(tenant),
        '--tenant',
        tenant,
        '--task-id',
        taskId,
        '--agent',
        rogue,
        '--wait',
      ],
      env,
    );
    assert.equal(submit.code, 1);
    assert.match(submit.stdout, /refused\s+file_write etc\/passwd: 'etc\/passwd' is not in scope\.in/);
    const status = JSON.parse((await arbiter(['status', `${tenant}/${taskId}`, '--json'], env)).stdout);
    assert.equal(status.state, 'FAILED');
    assert.deepEqual(status.violations, [
      { op: 'file_write', path: 'etc/passwd', reason: "'etc/passwd' is not in scope.in" },
    ]);
    assert.equal(status.delivery, null);
  });

  it('submit --wait exits 1 for a rejected spec and prints the problems', async () => {
    const res = await arbiter(
      [
        'submit',
        writeSpec(specYaml({ risk_tier: 9 })),
        '--repo',
        await registerRepo(tenant),
        '--tenant',
        tenant,
        '--wait',
      ],
      cliEnv(),
    );
    assert.equal(res.code, 1);
    assert.match(res.stdout, /REJECTED/);
    assert.match(res.stdout, /- risk_tier/);
  });

  it('cancel moves a running task to CANCELLED', async () => {
    const env = cliEnv();
    const taskId = uniqueId('cli-cancel');
    const submit = await arbiter(
      [
        'submit',
        writeSpec(),
        '--repo',
        await registerRepo(tenant),
        '--tenant',
        tenant,
        '--task-id',
        taskId,
        '--agent',
        agentId,
        '--gate',
        'slow=sleep 60',
      ],
      env,
    );
    assert.equal(submit.code, 0, submit.stderr);
    const cancel = await arbiter(['cancel', `${tenant}/${taskId}`], env);
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.match(cancel.stdout, /CANCELLED/);
    const again = await arbiter(['cancel', `${tenant}/${taskId}`], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already ended in CANCELLED/);
  });

  it('exits 1 for an unknown task and 2 for bad usage', async () => {
    const env = cliEnv();
    const unknown = await arbiter(['status', `${tenant}/${uniqueId('nope')}`], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no task with workflow id/);
    assert.equal((await arbiter(['submit'], env)).code, 2);
    assert.equal((await arbiter(['no-such-command'], env)).code, 2);
    const badRef = await arbiter(['status', 'a/b/../c'], env);
    assert.equal(badRef.code, 2);
    const missingSpec = await arbiter(['submit', '/nonexistent/spec.yaml', '--repo', 'x'], env);
    assert.equal(missingSpec.code, 2);
    assert.match(missingSpec.stderr, /does not exist/);
    const badGate = await arbiter(['submit', writeSpec(), '--repo', 'x', '--gate', 'nocommand'], env);
    assert.equal(badGate.code, 2);
  });

  it('doctor passes against the running stack and names what is missing otherwise', async () => {
    const ok = await arbiter(['doctor'], cliEnv());
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /ok\s+Temporal server\s+reachable .* search attributes registered/);
    assert.match(ok.stdout, /ok\s+PostgreSQL\s+reachable/);
    const down = await arbiter(['doctor'], { ...cliEnv(), TEMPORAL_ADDRESS: '127.0.0.1:1' });
    assert.equal(down.code, 1);
    assert.match(down.stderr, /missing: .*Temporal server/);
  });
});
