'use strict';
const assert = require('node:assert/strict');
const { range } = require('../src/range');

assert.deepEqual(range(0, 3), [0, 1, 2]);
assert.deepEqual(range(5, 1, -2), [5, 3]);
assert.deepEqual(range(2, 2), []);
console.log('range: ok');
