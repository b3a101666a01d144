'use strict';
const assert = require('node:assert/strict');
const { parseDuration } = require('../src/duration');

assert.equal(parseDuration('1h30m'), 5400);
assert.equal(parseDuration('45s'), 45);
assert.equal(parseDuration('2m5s'), 125);
console.log('minutes: ok');
