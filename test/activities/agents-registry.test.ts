/** The agent registry on the real test PostgreSQL: validation, upsert, tenant visibility, status. */
import assert from 'node:assert/strict';
import { eq } from 'drizzle-orm';
import {
  InvalidAgentError,
  UnknownAgentError,
  activeTaskCounts,
  getAgent,
  listAgents,
  setAgentStatus,
  upsertAgent,
} from '../../db/agents';
import { agents } from '../../db/schema';
import type { AgentRegistration, ScriptedStep } from '../../domain/agent';
import { uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';

const STEPS: ScriptedStep[] = [{ op: 'write', path: 'src/a.js', content: 'a\n' }];
/** A task type nothing else submits, so agents made here are never routed to by other suites. */
const UNROUTABLE = { taskTypes: ['registry-test-only'] };

function registration(extra: Partial<AgentRegistration> = {}): AgentRegistration {
  return { id: uniqueId('agent'), kind: 'scripted', config: { steps: STEPS }, capabilities: UNROUTABLE, ...extra };
}

async function invalid(reg: unknown): Promise<string[]> {
  const { db } = testStack().database;
  let problems: string[] = [];
  await assert.rejects(upsertAgent(db, reg as AgentRegistration), (err: unknown) => {
    assert.ok(err instanceof InvalidAgentError, `expected InvalidAgentError, got ${String(err)}`);
    assert.equal(err.name, 'InvalidAgentError');
    assert.ok(err.problems.length > 0);
    assert.equal(err.message, `invalid agent: ${err.problems.join('; ')}`);
    problems = err.problems;
    return true;
  });
  return problems;
}

describe('agent registry (db/agents)', () => {
  const created: string[] = [];
  const db = () => testStack().database.db;
  async function add(extra: Partial<AgentRegistration> = {}) {
    const record = await upsertAgent(db(), registration(extra));
    created.push(record.id);
    return record;
  }

  after(async () => {
    // Leave nothing routable behind for other suites sharing the database.
    for (const id of created) await setAgentStatus(db(), id, 'retired').catch(() => undefined);
  });

  describe('upsertAgent validation', () => {
    it('refuses an unknown kind', async () => {
      const problems = await invalid(registration({ kind: 'gpt-magic' as never }));
      assert.equal(problems.length, 1);
      assert.match(problems[0], /^kind: /);
    });

    it("checks each kind's config with its own schema", async () => {
      assert.deepEqual(await invalid(registration({ kind: 'command', config: { argv: [] } })), [
        'config.argv: argv must name a program',
      ]);
      const openai = await invalid(registration({ kind: 'openai', config: { model: 'm' } }));
      assert.ok(
        openai.some((p) => p.startsWith('config.baseUrl: ')),
        openai.join('; '),
      );
    });

    it("refuses a gateway upstream whose key variable is one of the worker's own settings", async () => {
      for (const apiKeyEnv of ['DATABASE_URL', 'ARBITER_SIGNING_KEY_FILE', 'TEMPORAL_API_KEY', 'PGPASSWORD']) {
        const upstream = { name: 'm', protocol: 'openai-chat', baseUrl: 'https://api.example.com/v1', apiKeyEnv };
        const problems = await invalid(
          registration({ kind: 'command', config: { argv: ['x'], gateway: { upstreams: [upstream] } } }),
        );
        assert.deepEqual(problems.length, 1, problems.join('; '));
        assert.match(problems[0], /^config\.gateway\.upstreams\.0\.apiKeyEnv: must name the model's key/);
        const openai = await invalid(
          registration({ kind: 'openai', config: { baseUrl: 'http://127.0.0.1:1/v1', model: 'm', apiKeyEnv } }),
        );
        assert.match(openai.join('; '), /config\.apiKeyEnv: must name the model's key/);
      }
    });

    it('refuses a cost budget over an upstream without prices, which the gateway could never count', async () => {
      const priced = { name: 'p', protocol: 'openai-chat', baseUrl: 'https://api.example.com/v1' };
      const unpriced = { name: 'u', protocol: 'openai-chat', baseUrl: 'https://api.example.com/v1' };
      const pricing = { inputPerMillion: 3, outputPerMillion: 15 };
      const config = (upstreams: object[]) => ({ argv: ['x'], gateway: { upstreams, budgets: { maxCostUsd: 5 } } });
      const problems = await invalid(
        registration({ kind: 'command', config: config([{ ...priced, pricing }, unpriced]) }),
      );
      assert.deepEqual(problems.length, 1, problems.join('; '));
      assert.match(problems[0], /^config\.gateway\.budgets\.maxCostUsd: .*'u' has none/);
      const { db } = testStack().database;
      const ok = await upsertAgent(
        db,
        registration({ kind: 'command', config: config([{ ...priced, pricing }]), capabilities: UNROUTABLE }),
      );
      assert.equal(ok.kind, 'command', 'priced, the same budget registers');
    });

    it('refuses a command agent whose gateway upstreams share a name, or whose tool dirs are not absolute', async () => {
      const u = { name: 'm', protocol: 'openai-chat', baseUrl: 'https://api.example.com/v1' };
      const problems = await invalid(
        registration({
          kind: 'command',
          config: { argv: ['x'], toolDirs: ['rel/dir', '/a/../b'], gateway: { upstreams: [u, u] } },
        }),
      );
      assert.ok(
        problems.some((p) => /upstream names must be unique/.test(p)),
        problems.join('; '),
      );
      assert.ok(
        problems.some((p) => /^config\.toolDirs\.0: must be an absolute path/.test(p)),
        problems.join('; '),
      );
      assert.ok(
        problems.some((p) => /^config\.toolDirs\.1: must be an absolute path/.test(p)),
        problems.join('; '),
      );
    });

    it('refuses a command agent that spells out a key in its argv, env or HOME files, naming where and never the value', async () => {
      const key = `sk-ant-api03-${'k3yB0dy_'.repeat(4)}`;
      const problems = await invalid(
        registration({
          kind: 'command',
          config: {
            argv: ['claude', `--api-key=${key}`],
            env: { ANTHROPIC_API_KEY: key, HARMLESS: '{token}' },
            homeFiles: { '.config/auth.json': JSON.stringify({ key }) },
          },
        }),
      );
      assert.deepEqual(
        problems.map((p) => p.split(':')[0]),
        ['config.argv[1]', 'config.env.ANTHROPIC_API_KEY', 'config.homeFiles..config/auth.json'],
      );
      assert.ok(!problems.join(' ').includes('k3yB0dy_'), problems.join('; '));
      const scripted = await invalid(
        registration({ config: { steps: [{ op: 'write', path: 'src/k.js', content: `'${key}'` }] } }),
      );
      assert.deepEqual(
        scripted.map((p) => p.split(':')[0]),
        ['config.steps[0].content'],
        'a plan that would deliver a key',
      );
    });

    it('refuses a scripted agent with no steps, or no config at all', async () => {
      assert.deepEqual(await invalid(registration({ config: { steps: [] } })), [
        'config.steps: a scripted plan needs at least one step',
      ]);
      const missing = await invalid(registration({ config: {} }));
      assert.equal(missing.length, 1);
      assert.match(missing[0], /^config\.steps: /);
    });

    it('refuses a malformed step, naming where it is', async () => {
      const problems = await invalid(registration({ config: { steps: [STEPS[0], { op: 'chmod', path: 'x' }] } }));
      assert.equal(problems.length, 1);
      assert.match(problems[0], /^config\.steps\.1\.op: /);
    });

    for (const bad of ['', 'has space', '../escape', '-leading-dash', 'a/b', 'x'.repeat(129)]) {
      it(`refuses the id ${JSON.stringify(bad.length > 20 ? `${bad.slice(0, 10)}…(${bad.length})` : bad)}`, async () => {
        const problems = await invalid(registration({ id: bad }));
        for (const p of problems) assert.match(p, /^id: /);
      });
    }

    it('lists every problem at once', async () => {
      const problems = await invalid({
        id: 'bad id',
        kind: 'scripted',
        config: { steps: [] },
        maxConcurrency: 0,
        tenantId: 'no/slash',
      });
      assert.ok(
        problems.some((p) => /^id: /.test(p)),
        problems.join('; '),
      );
      assert.ok(
        problems.some((p) => /^maxConcurrency: /.test(p)),
        problems.join('; '),
      );
      assert.ok(
        problems.some((p) => /^tenantId: /.test(p)),
        problems.join('; '),
      );
      assert.ok(
        problems.some((p) => /^config\.steps: /.test(p)),
        problems.join('; '),
      );
    });

    it('stores nothing for a refused registration', async () => {
      const id = uniqueId('agent');
      await invalid(registration({ id, config: { steps: [] } }));
      await assert.rejects(getAgent(db(), id), UnknownAgentError);
    });
  });

  describe('upsertAgent storage', () => {
    it('stores a valid agent with defaults applied', async () => {
      const tenantId = uniqueId('tenant');
      const record = await add({ tenantId, capabilities: undefined });
      assert.deepEqual(record, {
        id: record.id,
        tenantId,
        name: record.id,
        kind: 'scripted',
        config: { steps: STEPS },
        capabilities: { taskTypes: [], languages: [], tags: [] },
        maxConcurrency: 1,
        status: 'active',
      });
      // Any-type agents must not stay routable for other suites.
      await setAgentStatus(db(), record.id, 'retired');
      assert.deepEqual(await getAgent(db(), record.id), { ...record, status: 'retired' });
    });

    it('re-adding the same id updates it (one row) and reactivates it', async () => {
      const tenantId = uniqueId('tenant');
      const first = await add({ tenantId, name: 'First', maxConcurrency: 2 });
      await setAgentStatus(db(), first.id, 'paused');
      const newSteps: ScriptedStep[] = [{ op: 'delete', path: 'src/old.js' }];
      const second = await upsertAgent(db(), {
        id: first.id,
        tenantId,
        name: 'Second',
        kind: 'scripted',
        config: { steps: newSteps },
        capabilities: { taskTypes: ['registry-test-only', 'refactor'], languages: ['ts'], tags: ['fast'] },
        maxConcurrency: 7,
      });
      assert.equal(second.id, first.id);
      assert.equal(second.name, 'Second');
      assert.equal(second.status, 'active');
      assert.equal(second.maxConcurrency, 7);
      assert.deepEqual(second.config, { steps: newSteps });
      assert.deepEqual(second.capabilities, {
        taskTypes: ['registry-test-only', 'refactor'],
        languages: ['ts'],
        tags: ['fast'],
      });
      assert.deepEqual(await getAgent(db(), first.id), second);
      const rows = await db().select().from(agents).where(eq(agents.id, first.id));
      assert.equal(rows.length, 1);
    });
  });

  describe('listAgents', () => {
    it("for a tenant: its own agents and shared ones, never another tenant's", async () => {
      const tenantA = uniqueId('tenant');
      const tenantB = uniqueId('tenant');
      const shared = await add({ name: 'shared' });
      const ownA = await add({ tenantId: tenantA });
      const ownB = await add({ tenantId: tenantB });
      assert.equal(shared.tenantId, null);

      const forA = (await listAgents(db(), { tenantId: tenantA })).map((a) => a.id);
      assert.ok(forA.includes(shared.id), 'shared agent visible to A');
      assert.ok(forA.includes(ownA.id), "A's agent visible to A");
      assert.ok(!forA.includes(ownB.id), "B's agent hidden from A");
      for (const a of await listAgents(db(), { tenantId: tenantA }))
        assert.ok(a.tenantId === null || a.tenantId === tenantA, `${a.id} of ${a.tenantId}`);

      const forB = (await listAgents(db(), { tenantId: tenantB })).map((a) => a.id);
      assert.ok(forB.includes(shared.id) && forB.includes(ownB.id) && !forB.includes(ownA.id));

      const all = (await listAgents(db())).map((a) => a.id);
      for (const id of [shared.id, ownA.id, ownB.id]) assert.ok(all.includes(id), id);
      assert.deepEqual(all, [...all].sort(), 'ordered by id');
    });

    it('filters by status too', async () => {
      const tenantId = uniqueId('tenant');
      const active = await add({ tenantId });
      const paused = await add({ tenantId });
      await setAgentStatus(db(), paused.id, 'paused');
      const mine = (rows: { id: string }[]) =>
        rows.map((r) => r.id).filter((id) => id === active.id || id === paused.id);
      assert.deepEqual(mine(await listAgents(db(), { tenantId, status: 'active' })), [active.id]);
      assert.deepEqual(mine(await listAgents(db(), { tenantId, status: 'paused' })), [paused.id]);
      assert.deepEqual(mine(await listAgents(db(), { tenantId, status: 'retired' })), []);
    });
  });

  describe('setAgentStatus', () => {
    it('pauses, resumes and retires, returning the updated record', async () => {
      const record = await add({ tenantId: uniqueId('tenant') });
      assert.equal((await setAgentStatus(db(), record.id, 'paused')).status, 'paused');
      assert.equal((await getAgent(db(), record.id)).status, 'paused');
      assert.equal((await setAgentStatus(db(), record.id, 'active')).status, 'active');
      const retired = await setAgentStatus(db(), record.id, 'retired');
      assert.deepEqual(retired, { ...record, status: 'retired' });
    });

    it('throws UnknownAgentError for an unknown id, and creates nothing', async () => {
      const id = uniqueId('ghost');
      await assert.rejects(setAgentStatus(db(), id, 'paused'), (err: unknown) => {
        assert.ok(err instanceof UnknownAgentError);
        assert.equal(err.name, 'UnknownAgentError');
        assert.equal(err.message, `no agent with id '${id}'`);
        return true;
      });
      await assert.rejects(getAgent(db(), id), UnknownAgentError);
      assert.equal((await db().select().from(agents).where(eq(agents.id, id))).length, 0);
    });
  });

  it('activeTaskCounts is empty for agents holding no tasks', async () => {
    const record = await add({ tenantId: uniqueId('tenant') });
    assert.equal((await activeTaskCounts(db(), [])).size, 0);
    assert.equal((await activeTaskCounts(db(), [record.id])).get(record.id), undefined);
  });
});
