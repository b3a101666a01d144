'use strict';
const assert = require('node:assert/strict');
const { range } = require('../src/range');

assert.throws(() => range(0, 3, 0), RangeError);
console.log('step: ok');
