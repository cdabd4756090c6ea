import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { countOption, intOption, intOr, numberOption, numberOr, templateKwargsOption, toolsOption } from '../../src/cli/args.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { KolmError } from '../../src/util/errors.js';

const rejects = (fn: () => unknown, message: string) =>
  assert.throws(fn, (e: unknown) => e instanceof KolmError && e.message === message, message);

test('integers: absent, valid, and every way of being wrong names the flag and the value', () => {
  assert.equal(intOption('steps', undefined, { min: 1 }), undefined);
  assert.equal(intOption('steps', '300', { min: 1 }), 300);
  assert.equal(intOption('seed', '-7'), -7);
  assert.equal(intOption('steps', ' 12 '), 12);
  assert.equal(intOption('steps', '1e3'), 1000);
  assert.equal(intOr('steps', undefined, 300), 300);
  rejects(() => intOption('steps', 'abc', { min: 1 }), '--steps must be an integer >= 1 (got "abc")');
  rejects(() => intOption('steps', '0', { min: 1 }), '--steps must be an integer >= 1 (got "0")');
  rejects(() => intOption('steps', '2.5', { min: 1 }), '--steps must be an integer >= 1 (got "2.5")');
  // What bare Number() accepted by accident: empty strings (0), hex, Infinity.
  rejects(() => intOption('batch', '', { min: 1 }), '--batch must be an integer >= 1 (got "")');
  rejects(() => intOption('batch', '0x10'), '--batch must be an integer (got "0x10")');
  rejects(() => intOption('port', '70000', { min: 0, max: 65535 }), '--port must be an integer between 0 and 65535 (got "70000")');
});

test('numbers: decimals and exponents within bounds', () => {
  assert.equal(numberOption('lr', '3e-4', { min: 0 }), 3e-4);
  assert.equal(numberOption('top-p', '.9', { min: 0, max: 1 }), 0.9);
  assert.equal(numberOption('presence-penalty', '-1.5'), -1.5);
  assert.equal(numberOr('lr', undefined, 0.01), 0.01);
  rejects(() => numberOption('lr', 'fast', { min: 0 }), '--lr must be a number >= 0 (got "fast")');
  rejects(() => numberOption('top-p', '2', { min: 0, max: 1 }), '--top-p must be a number between 0 and 1 (got "2")');
  rejects(() => numberOption('temperature', 'Infinity'), '--temperature must be a number (got "Infinity")');
  rejects(() => numberOption('clip', '1', { max: 0.5 }), '--clip must be a number <= 0.5 (got "1")');
});

test('counts take k/M/G suffixes', () => {
  assert.equal(countOption('vocab-size', '32k'), 32000);
  assert.equal(countOption('max-bytes', '1.5M'), 1_500_000);
  assert.equal(countOption('max-bytes', '2G'), 2e9);
  assert.equal(countOption('vocab-size', '500', { min: 1 }), 500);
  assert.equal(countOption('vocab-size', undefined), undefined);
  rejects(() => countOption('vocab-size', 'lots', { min: 1 }), '--vocab-size must be an integer >= 1, optionally with a k/M/G suffix (got "lots")');
  rejects(() => countOption('vocab-size', '0', { min: 1 }), '--vocab-size must be an integer >= 1 (got "0")');
});

test('JSON options: template keyword arguments and a tools file, each error naming the flag and the value', () => {
  assert.equal(templateKwargsOption('chat-template-kwargs', undefined), undefined);
  assert.deepEqual(templateKwargsOption('chat-template-kwargs', '{"enable_thinking": false, "n": 2}'), { enable_thinking: false, n: 2 });
  assert.throws(() => templateKwargsOption('chat-template-kwargs', 'true'), /--chat-template-kwargs must be a JSON object of template variables, got true/);
  assert.throws(() => templateKwargsOption('chat-template-kwargs', "{'a': 1}"), /--chat-template-kwargs must be a JSON object \(got "\{'a': 1\}": /);
  assert.throws(() => templateKwargsOption('chat-template-kwargs', '{"add_generation_prompt": false}'), /--chat-template-kwargs: 'add_generation_prompt' is set by the renderer/);
  const dir = mkdtempSync(join(tmpdir(), 'kolm-args-'));
  try {
    const file = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }];
    assert.deepEqual(toolsOption('tools', file('ok.json', JSON.stringify(tools))), tools);
    assert.throws(() => toolsOption('tools', file('bad.json', '[')), /--tools .*bad\.json: not valid JSON/);
    assert.throws(() => toolsOption('tools', file('obj.json', '{"type": "function"}')), /--tools .*obj\.json must be a JSON array of tools/);
    assert.throws(() => toolsOption('tools', file('fn.json', '[{"type": "function", "function": {}}]')), /--tools .*fn\.json\[0\] must be \{"type": "function"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kolm: a bad number fails before any work, naming the flag and the value', async () => {
  const cli = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.js');
  await assert.rejects(promisify(execFile)(process.execPath, [cli, 'demo', '--steps', 'abc']), (e: { code?: number; stderr?: string }) => {
    assert.equal(e.code, 1);
    assert.equal(e.stderr, 'kolm: --steps must be an integer >= 1 (got "abc")\n');
    return true;
  });
});
