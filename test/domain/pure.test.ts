/**
 * test/domain is run without the stack when selected alone (scripts/run-tests.js PURE_DIRS):
 * no suite here may reach the stack helpers, directly or through fixtures, cli or wait.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

describe('test/domain stays pure', () => {
  it('no suite in test/domain imports a helper that needs the running stack', () => {
    const offenders = readdirSync(__dirname)
      .filter((f) => f.endsWith('.test.js'))
      .filter((f) =>
        /require\("\.\.\/helpers\/(stack|fixtures|cli|wait|fake-openai)"\)/.test(
          readFileSync(path.join(__dirname, f), 'utf8'),
        ),
      );
    assert.deepEqual(offenders, [], 'these suites need the stack: move them out of test/domain');
  });
});
