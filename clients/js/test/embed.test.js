import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import vm from 'node:vm';
import { SOURCE, TARGET, classicScript } from '../scripts/embed.mjs';

test('the server\'s embed.js is the package module, wrapped (npm run build:embed)', () => {
  assert.equal(readFileSync(TARGET, 'utf8'), classicScript(readFileSync(SOURCE, 'utf8')));
});

test('embed.js runs as a classic script and sets window.LiveCheck', () => {
  const window = {};
  vm.runInNewContext(readFileSync(TARGET, 'utf8'), { window, URL, URLSearchParams });
  assert.equal(typeof window.LiveCheck.mount, 'function');
  assert.equal(window.LiveCheck.VERSION, 2);
  assert.ok(Object.isFrozen(window.LiveCheck));
});
