/**
 * A command agent registered before literal keys were refused at `agents add` may still hold one
 * in its env. Run, the agent could write that key into the change Arbiter delivers; so the run is
 * refused before the agent starts, naming the field and never the value.
 */
import assert from 'node:assert/strict';
import { eq } from 'drizzle-orm';
import { agents } from '../../db/schema';
import { addCommandAgent, taskInput, uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';

describe('a command agent holding a literal key', function () {
  this.timeout(120_000);

  it('fails the run, the agent never started, when its stored env spells out a key', async () => {
    const stack = testStack();
    const tenant = uniqueId('tenant');
    const body = `${'Lit3ralK3y_'.repeat(3)}`;
    const agent = await addCommandAgent(tenant, 'mkdir -p src && printf %s "$VENDOR_KEY" > src/leak.txt');
    const config = { ...(agent.config as Record<string, unknown>), env: { VENDOR_KEY: `sk-proj-${body}` } };
    // As a row written before the registration rule: straight into the table.
    await stack.database.db.update(agents).set({ config }).where(eq(agents.id, agent.id));

    const input = await taskInput(tenant);
    await stack.client.submit(input);
    const final = await stack.client.watch(input, undefined, 250);
    assert.equal(final.state, 'FAILED', JSON.stringify(final));
    assert.equal(final.error?.type, 'AgentConfigError', JSON.stringify(final.error));
    assert.match(final.error?.message ?? '', /config\.env\.VENDOR_KEY: holds what looks like an OpenAI-style key/);
    assert.ok(!JSON.stringify(final).includes(body), 'the key is not repeated');
    assert.ok(!final.delivery, 'nothing delivered');
  });
});
