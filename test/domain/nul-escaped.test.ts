/** What goes into a jsonb column: every NUL in a string or a key written `\0`, nothing else changed. */
import assert from 'node:assert/strict';
import { nulEscaped, storableJson } from '../../domain/bounds';

describe('nulEscaped / storableJson', () => {
  it('writes every NUL in strings and keys, nested, as \\0 and leaves the rest as JSON has it', () => {
    const at = new Date('2026-12-03T00:00:00Z');
    const value = { 'k\0': ['a\0b', 1, null, true, { deep: 'x\0' }], at, plain: 'text \\u0000 as written' };
    assert.deepEqual(nulEscaped(value), {
      'k\\0': ['a\\0b', 1, null, true, { deep: 'x\\0' }],
      at: at.toISOString(),
      plain: 'text \\u0000 as written',
    });
    assert.equal(storableJson(value), JSON.stringify(nulEscaped(value)));
    assert.equal(storableJson({ a: 'clean' }), '{"a":"clean"}');
  });
});
