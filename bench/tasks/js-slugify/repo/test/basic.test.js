'use strict';
const assert = require('node:assert/strict');
const { slugify } = require('../src/slugify');

assert.equal(slugify('Crème'), 'creme');
assert.equal(slugify('abc123'), 'abc123');
assert.equal(slugify('a-b'), 'a-b');
console.log('basic: ok');
