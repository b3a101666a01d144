/** Record text made safe to show: nothing in it moves a terminal's cursor, hides text or starts a line. */
import assert from 'node:assert/strict';
import { printable, printableLines } from '../../domain/printable';
import { receivedSnapshot } from '../../domain/task';
import { summarizeTask } from '../../domain/task-summary';

describe('printable record text', () => {
  it('escapes controls, bidi and invisible formatting characters and line separators as \\uXXXX', () => {
    assert.equal(printable('a\x1b[2Kb'), 'a\\u001B[2Kb');
    assert.equal(printable('x\ny\rz\t'), 'x\\u000Ay\\u000Dz\\u0009');
    assert.equal(
      printable('\u0085\u009b\u202e\u2066\u200b\u2028\ufeff\u007f'),
      '\\u0085\\u009B\\u202E\\u2066\\u200B\\u2028\\uFEFF\\u007F',
    );
    assert.equal(printable('src/ſecret∕é 日本.js'), 'src/ſecret∕é 日本.js', 'ordinary text is left alone');
    assert.equal(printableLines('one\n\ttwo\x1b[8m\r'), 'one\n\ttwo\\u001B[8m\\u000D');
    // Escaped inside a JSON string, the text is still valid JSON with the same value.
    const json = JSON.stringify({ name: 'a\u202eb\u0085' });
    assert.deepEqual(JSON.parse(printableLines(json)), { name: 'a\u202eb\u0085' });
  });

  it("keeps each fact of a task's summary on its own line, whatever a gate's detail holds", () => {
    const s = receivedSnapshot({ tenantId: 't', taskId: 'x' }, 'w');
    s.gates = [
      {
        name: 'tree',
        kind: 'tree',
        source: 'arbiter',
        status: 'pass',
        detail: 'left behind: a\n  waiver   awaiting approval (+1 files)\x1b[8m',
      },
    ];
    const { lines } = summarizeTask(s);
    assert.equal(lines.length, 1);
    assert.equal(
      lines[0].text,
      'tree (arbiter): pass — left behind: a\\u000A  waiver   awaiting approval (+1 files)\\u001B[8m',
    );
  });
});
