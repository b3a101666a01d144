/**
 * From the CLI, end to end: a `command` agent (a real script that reads the prompt and edits
 * files, confined) and a `scripted` agent each take a task to COMPLETED; a failing command
 * agent fails by its own fault; `export-training-data` writes the outcomes as JSONL.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { arbiter } from '../helpers/cli';
import { startFakeOpenAI } from '../helpers/fake-openai';
import { GOOD_PLAN, gitIn, makeRepo, registerRepo, specYaml, uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { tempDir } from '../helpers/temp';

function env(): NodeJS.ProcessEnv {
  const s = testStack();
  return {
    TEMPORAL_ADDRESS: s.address,
    DATABASE_URL: s.databaseUrl,
    ARBITER_TASK_QUEUE: s.taskQueue,
    ARBITER_HOME: tempDir('arbiter-kinds-'),
  };
}

function specFile(): string {
  const file = path.join(tempDir('arbiter-spec-'), 'spec.yaml');
  writeFileSync(file, specYaml());
  return file;
}

/** A coding-agent "CLI": reads the task prompt on stdin and writes the feature and a note of what it was asked. */
const AGENT_SCRIPT = [
  "const fs = require('fs');",
  "const prompt = fs.readFileSync(0, 'utf8');",
  "fs.writeFileSync('src/feature.js', 'module.exports = () => 42;\\n');",
  "fs.writeFileSync('src/asked.txt', prompt.split('\\n')[0] + '\\n');",
].join(' ');

async function submitAndWait(e: NodeJS.ProcessEnv, tenant: string, agentId: string) {
  const taskId = uniqueId('task');
  const repo = makeRepo();
  const res = await arbiter(
    [
      'submit',
      specFile(),
      '--repo',
      await registerRepo(tenant, repo),
      '--tenant',
      tenant,
      '--task-id',
      taskId,
      '--agent',
      agentId,
      '--gate',
      'check=node -e "require(\'./src/feature.js\')() === 42 || process.exit(1)"',
      '--wait',
      '--json',
    ],
    e,
  );
  return { res, repo, taskId, status: res.stdout ? JSON.parse(res.stdout).status : undefined };
}

describe('agent kinds from the CLI', function () {
  this.timeout(120_000);

  it('a command agent runs a real script in the sandbox and its change is delivered', async () => {
    const e = env();
    const tenant = uniqueId('tenant');
    const agentId = uniqueId('cmd');
    const add = await arbiter(
      [
        'agents',
        'add',
        '--id',
        agentId,
        '--kind',
        'command',
        '--tenant',
        tenant,
        '--task-types',
        'feature',
        '--config',
        JSON.stringify({ argv: ['node', '-e', AGENT_SCRIPT], promptVia: 'stdin', timeoutSeconds: 60 }),
      ],
      e,
    );
    assert.equal(add.code, 0, add.stderr);
    const { res, repo, taskId, status } = await submitAndWait(e, tenant, agentId);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.equal(status.state, 'COMPLETED');
    assert.equal(gitIn(repo, 'show', `arbiter/${taskId}:src/feature.js`), 'module.exports = () => 42;');
    assert.equal(
      gitIn(repo, 'show', `arbiter/${taskId}:src/asked.txt`),
      '# Task TEST-001: Test change',
      'the agent got the task prompt',
    );
  });

  it('a scripted agent does too', async () => {
    const e = env();
    const tenant = uniqueId('tenant');
    const agentId = uniqueId('scripted');
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
        '--config',
        JSON.stringify({ steps: GOOD_PLAN }),
      ],
      e,
    );
    assert.equal(add.code, 0, add.stderr);
    const { res, status } = await submitAndWait(e, tenant, agentId);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.equal(status.state, 'COMPLETED');
  });

  it('an openai agent runs its tool-calling conversation to a delivered change', async () => {
    const fake = await startFakeOpenAI({
      script: [
        {
          toolCalls: [
            { name: 'file_write', arguments: { path: 'src/feature.js', content: 'module.exports = () => 42;\n' } },
          ],
          usage: { prompt: 100, completion: 20 },
        },
        { content: 'Added src/feature.js.', usage: { prompt: 150, completion: 10 } },
      ],
    });
    try {
      const e = env();
      const tenant = uniqueId('tenant');
      const agentId = uniqueId('oa');
      const add = await arbiter(
        [
          'agents',
          'add',
          '--id',
          agentId,
          '--kind',
          'openai',
          '--tenant',
          tenant,
          '--config',
          JSON.stringify({ baseUrl: fake.baseUrl, model: 'fake-coder' }),
        ],
        e,
      );
      assert.equal(add.code, 0, add.stderr);
      const { res, repo, taskId, status } = await submitAndWait(e, tenant, agentId);
      assert.equal(res.code, 0, res.stdout + res.stderr);
      assert.equal(status.state, 'COMPLETED');
      assert.equal(gitIn(repo, 'show', `arbiter/${taskId}:src/feature.js`), 'module.exports = () => 42;');
      assert.deepEqual([fake.completed(1), fake.completed(2)], [1, 1]);
    } finally {
      await fake.close();
    }
  });

  it("a command agent that exits non-zero fails the task as the agent's fault", async () => {
    const e = env();
    const tenant = uniqueId('tenant');
    const agentId = uniqueId('cmd-bad');
    await arbiter(
      [
        'agents',
        'add',
        '--id',
        agentId,
        '--kind',
        'command',
        '--tenant',
        tenant,
        '--config',
        JSON.stringify({ argv: ['node', '-e', "console.error('cannot do it'); process.exit(4)"] }),
      ],
      e,
    );
    const { res, status } = await submitAndWait(e, tenant, agentId);
    assert.equal(res.code, 1);
    assert.equal(status.state, 'FAILED');
    assert.equal(status.error.type, 'AgentFailedError');
    assert.match(status.error.message, /exited with 4: cannot do it/);
  });

  it('agents add validates each kind and never takes an API key itself', async () => {
    const e = env();
    const bad = await arbiter(
      [
        'agents',
        'add',
        '--id',
        uniqueId('oa'),
        '--kind',
        'openai',
        '--config',
        JSON.stringify({ baseUrl: 'not a url', model: 'm', apiKey: 'sk-secret' }),
      ],
      e,
    );
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /config\.baseUrl: baseUrl must be a URL/);
    assert.match(bad.stderr, /Unrecognized key\(s\) in object: 'apiKey'/);
    const lowercase = await arbiter(
      [
        'agents',
        'add',
        '--id',
        uniqueId('oa'),
        '--kind',
        'openai',
        '--config',
        JSON.stringify({ baseUrl: 'http://127.0.0.1:1/v1', model: 'm', apiKeyEnv: 'sk-live-123' }),
      ],
      e,
    );
    assert.equal(lowercase.code, 2);
    assert.match(lowercase.stderr, /apiKeyEnv: must be an environment variable name/);
    const cmd = await arbiter(
      [
        'agents',
        'add',
        '--id',
        uniqueId('c'),
        '--kind',
        'command',
        '--config',
        JSON.stringify({ argv: ['x'], promptVia: 'arg' }),
      ],
      e,
    );
    assert.equal(cmd.code, 2);
    assert.match(cmd.stderr, /promptVia arg needs a \{prompt\} placeholder/);
  });

  it('export-training-data writes one JSONL record per finished task, without paths unless asked', async () => {
    const e = env();
    const tenant = uniqueId('tenant');
    const agentId = uniqueId('scripted');
    await arbiter(
      [
        'agents',
        'add',
        '--id',
        agentId,
        '--kind',
        'scripted',
        '--tenant',
        tenant,
        '--config',
        JSON.stringify({ steps: GOOD_PLAN }),
      ],
      e,
    );
    const { taskId } = await submitAndWait(e, tenant, agentId);
    const plain = await arbiter(['export-training-data', '--tenant', tenant], e);
    assert.equal(plain.code, 0, plain.stderr);
    const records = plain.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(records.length, 1);
    assert.equal(records[0].taskId, taskId);
    assert.equal(records[0].agentId, agentId);
    assert.deepEqual(records[0].features, {
      taskType: 'feature',
      riskTier: 3,
      specId: 'TEST-001',
      filesChanged: 1,
      linesChanged: 1,
    });
    assert.equal(records[0].outcome.outcome, 'PASS');
    assert.equal(records[0].outcome.reward, 1);
    assert.equal(records[0].paths, undefined);
    assert.equal(records[0].patch, undefined);
    assert.doesNotMatch(plain.stdout, /feature\.js/);
    const full = JSON.parse(
      (
        await arbiter(['export-training-data', '--tenant', tenant, '--include-paths', '--include-contents'], e)
      ).stdout.trim(),
    );
    assert.deepEqual(full.paths, ['src/feature.js']);
    assert.match(full.patch, /\+module\.exports = \(\) => 42;/);
    const future = await arbiter(['export-training-data', '--tenant', tenant, '--since', '2999-01-01'], e);
    assert.equal(future.stdout, '');
    assert.equal((await arbiter(['export-training-data', '--since', 'yesterday-ish'], e)).code, 2);
  });
});
