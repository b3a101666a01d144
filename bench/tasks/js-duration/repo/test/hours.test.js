'use strict';
const assert = require('node:assert/strict');
const { parseDuration } = require('../src/duration');

assert.equal(parseDuration('2h'), 7200);
assert.throws(() => parseDuration('soon'), SyntaxError);
assert.throws(() => parseDuration(''), SyntaxError);
console.log('hours: ok');
