'use strict';
const assert = require('node:assert/strict');
const { greet } = require('./greet');

assert.equal(greet('Ada'), 'Hello, Ada!');
console.log('greet: ok');
