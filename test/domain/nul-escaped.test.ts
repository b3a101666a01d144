/** What goes into a jsonb column: every NUL in a string or a key written `\0`, half a surrogate pair U+FFFD, nothing else changed. */
import assert from 'node:assert/strict';
import { storableValue, storableJson } from '../../domain/bounds';

describe('storableValue / storableJson', () => {
  it('writes every NUL in strings and keys, nested, as \\0 and leaves the rest as JSON has it', () => {
    const at = new Date('2026-12-03T00:00:00Z');
    const value = { 'k\0': ['a\0b', 1, null, true, { deep: 'x\0' }], at, plain: 'text \\u0000 as written' };
    assert.deepEqual(storableValue(value), {
      'k\\0': ['a\\0b', 1, null, true, { deep: 'x\\0' }],
      at: at.toISOString(),
      plain: 'text \\u0000 as written',
    });
    assert.equal(storableJson(value), JSON.stringify(storableValue(value)));
    assert.equal(storableJson({ a: 'clean' }), '{"a":"clean"}');
    assert.equal(storableJson(undefined), undefined);
  });

  it('writes half a surrogate pair as U+FFFD, as a text column stores it, and keeps whole pairs', () => {
    assert.deepEqual(storableValue({ [`k\ud800`]: `a\udc00b\ud83d\ude00` }), { 'k\ufffd': 'a\ufffdb\ud83d\ude00' });
    assert.equal(storableJson('\ud83d\ude00'), JSON.stringify('\ud83d\ude00'));
  });
});
