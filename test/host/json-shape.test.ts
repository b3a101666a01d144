/**
 * The shape check that keeps the gateway from parsing what would hold the worker's thread: a body
 * of more values or deeper nesting than a conversation has, and a reply's usage events counted
 * together. Found in review: joined and scanned as one, a quote left open in one event hid the
 * next event's two million values from the count, and that event was parsed unbounded.
 */
import assert from 'node:assert/strict';
import { documentsShapeProblem, jsonShapeProblem, MAX_JSON_VALUES } from '../../host/gateway/json-shape';
import { usageDocuments } from '../../domain/model-usage';

const heavy = `[${Array(MAX_JSON_VALUES + 10)
  .fill('{}')
  .join(',')}]`;

describe('json shape', () => {
  it('refuses a body past the values or the nesting a conversation has', () => {
    assert.match(String(jsonShapeProblem(Buffer.from(heavy))), /more than 500000 JSON values/);
    assert.match(String(jsonShapeProblem(Buffer.from(`${'['.repeat(600)}${']'.repeat(600)}`))), /deeper than 512/);
    assert.equal(jsonShapeProblem(Buffer.from('{"a":"[[[[,,,,"}')), undefined, 'text in strings is not counted');
  });

  it("counts a stream's usage events each on its own, their values together", () => {
    const events = (body: string) => documentsShapeProblem(usageDocuments(body));
    const honest = `data: {"usage":{"prompt_tokens":1},"a":${heavy}}\n`;
    assert.match(String(events(honest)), /more than 500000/);
    assert.match(String(events(`data: {"usage":0,"x\n${honest}`)), /more than 500000/, 'an open quote hides nothing');
    const half = `[${Array(MAX_JSON_VALUES / 2)
      .fill('{}')
      .join(',')}]`;
    const twoHalves = `data: {"usage":1,"a":${half}}\ndata: {"usage":2,"a":${half}}\n`;
    assert.match(String(events(twoHalves)), /more than 500000/, 'counted together');
    assert.equal(events('data: {"usage":{"prompt_tokens":3}}\ndata: [DONE]\n'), undefined);
  });
});
