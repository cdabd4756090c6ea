import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProgram, sandboxInfo } from '../../src/eval/sandbox.js';
import { TaskIndex } from '../../src/eval/config.js';
import { evaluate } from '../../src/eval/evaluator.js';
import type { Backend, GenerationRequest } from '../../src/eval/backend.js';
import { repoRoot } from './eval-helpers.js';

const python = sandboxInfo().python;
const skipPy = python ? false : 'python3 is not installed';
let outside: string;
let server: Server;
let port = 0;
let connections = 0;

before(async () => {
  outside = mkdtempSync(join(tmpdir(), 'kolm-sandbox-outside-'));
  writeFileSync(join(outside, 'keep.txt'), 'original');
  server = createServer((s) => {
    connections++;
    s.end('hello');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as { port: number }).port;
});

after(() => {
  server.close();
  rmSync(outside, { recursive: true, force: true });
});

const opts = { timeoutMs: 10_000, memoryMb: 256 };
const last = (s: string) => s.trim().split('\n').at(-1) ?? '';

test('python: ordinary programs pass (standard library, files in the temp dir) and assertion failures fail', { skip: skipPy }, async () => {
  const ok = await runProgram('python', [
    'import math, re, collections, itertools, functools, heapq, typing, string, hashlib, json, fractions, statistics, datetime',
    'from typing import List, NamedTuple',
    "P = collections.namedtuple('P', 'a b', defaults=[1])",
    "open('scratch.txt', 'w').write('x')",
    "assert open('scratch.txt').read() == 'x' and P(0).b == 1 and math.gcd(12, 18) == 6",
    'def add(a, b):\n    return a + b',
    'assert add(2, 3) == 5',
  ].join('\n'), opts);
  assert.equal(ok.status, 'passed', ok.stderr);
  assert.ok(ok.isolation.includes('python-audit-hook') && ok.isolation.includes('temp-dir'));
  const bad = await runProgram('python', 'def add(a, b):\n    return a * b\nassert add(2, 3) == 5', opts);
  assert.equal(bad.status, 'failed');
  assert.match(bad.stderr, /AssertionError/);
});

test('python: writes, renames and deletes outside the temp dir are refused, including through patched helpers and dir fds', { skip: skipPy }, async () => {
  const target = join(outside, 'escape.txt');
  const keep = join(outside, 'keep.txt');
  const attempts = [
    `open(${JSON.stringify(target)}, 'w').write('x')`,
    `import os\nos.chdir(${JSON.stringify(outside)})\nopen('escape.txt', 'w').write('x')`,
    `import os\nfd = os.open(${JSON.stringify(target)}, os.O_WRONLY | os.O_CREAT)\nos.write(fd, b'x')`,
    `import os\nfd = os.open(${JSON.stringify(outside)}, os.O_RDONLY)\nos.open('escape.txt', os.O_WRONLY | os.O_CREAT, dir_fd=fd)`,
    `import os\nos.remove(${JSON.stringify(keep)})`,
    `import os\nopen('mine.txt', 'w').write('x')\nos.rename('mine.txt', ${JSON.stringify(target)})`,
    `import shutil\nshutil.copy(${JSON.stringify(keep)}, ${JSON.stringify(target)})`,
    `import os\nos.symlink(${JSON.stringify(target)}, 'link')\nopen('link', 'w').write('x')`,
    `import os, os.path, posixpath, builtins\nposixpath.normpath = lambda p: os.getcwd() + '/x'\nos.path.realpath = lambda p: os.getcwd() + '/x'\nos.getcwd = lambda: ${JSON.stringify(outside)}\nbuiltins.tuple = lambda *a: ()\nopen(${JSON.stringify(target)}, 'w').write('x')`,
    `try:\n    open(${JSON.stringify(target)}, 'w')\nexcept PermissionError as e:\n    frame = e.__traceback__.tb_next.tb_frame\n    frame.f_locals['ROOT'] = '/'\nopen(${JSON.stringify(target)}, 'w').write('x')`,
    `import ctypes\nctypes.CDLL(None).system(b'touch ${target}')`,
  ];
  for (const code of attempts) {
    const r = await runProgram('python', code, opts);
    assert.equal(r.status, 'failed', `should fail: ${code}\n${r.stdout}${r.stderr}`);
    assert.match(last(r.stderr), /PermissionError: sandbox:/, code);
  }
  assert.deepEqual(readdirSync(outside).sort(), ['keep.txt']);
  assert.equal(readFileSync(keep, 'utf8'), 'original');
  const read = await runProgram('python', "print(open('/etc/passwd').read())", opts);
  assert.equal(read.status, 'failed');
  assert.doesNotMatch(read.stdout, /root:/);
});

test('python: no network and no child processes', { skip: skipPy }, async () => {
  const marker = join(outside, 'child-ran');
  const attempts = [
    `import socket\nsocket.create_connection(('127.0.0.1', ${port}), timeout=2).recv(5)`,
    `import urllib.request\nurllib.request.urlopen('http://127.0.0.1:${port}/', timeout=2).read()`,
    `import subprocess\nsubprocess.run(['touch', ${JSON.stringify(marker)}])`,
    `import os\nos.system('touch ${marker}')`,
    `import os\nif os.fork() == 0:\n    open(${JSON.stringify(marker)}, 'w')`,
    `import os\nos.execv('/usr/bin/touch', ['touch', ${JSON.stringify(marker)}])`,
    `import os\nos.posix_spawn('/usr/bin/touch', ['touch', ${JSON.stringify(marker)}], {})`,
    `import pty\npty.spawn(['touch', ${JSON.stringify(marker)}])`,
  ];
  for (const code of attempts) {
    const r = await runProgram('python', code, opts);
    assert.equal(r.status, 'failed', `should fail: ${code}\n${r.stderr}`);
    assert.match(r.stderr, /PermissionError: sandbox:/, code);
  }
  assert.equal(existsSync(marker), false);
  assert.equal(connections, 0, 'the test server saw no connection');
});

test('python: infinite loops and sleeps are killed at the time limit; memory bombs fail', { skip: skipPy }, async () => {
  for (const code of ['while True:\n    pass', 'import time\ntime.sleep(60)']) {
    const r = await runProgram('python', code, { ...opts, timeoutMs: 1500 });
    assert.equal(r.status, 'timeout', code);
  }
  const bomb = await runProgram('python', 'x = bytearray(4 * 1024 ** 3)', opts);
  assert.equal(bomb.status, 'failed');
  assert.match(bomb.stderr, /MemoryError/);
  const grow = await runProgram('python', "x = []\nwhile True:\n    x.append(' ' * 10 ** 7)", { ...opts, memoryMb: 128 });
  assert.notEqual(grow.status, 'passed');
  assert.match(grow.stderr, /MemoryError/);
});

test('javascript: permission model confines fs to the temp dir, no child processes or workers, no network', async () => {
  const target = join(outside, 'escape-js.txt');
  const ok = await runProgram('javascript', "const fs = require('fs'); fs.writeFileSync('a.txt', 'x'); if (fs.readFileSync('a.txt', 'utf8') !== 'x') process.exit(1);", opts);
  assert.equal(ok.status, 'passed', ok.stderr);
  const attempts = [
    `require('fs').writeFileSync(${JSON.stringify(target)}, 'x')`,
    `require('fs').readFileSync('/etc/passwd', 'utf8')`,
    `require('child_process').execSync('touch ${target}')`,
    `new (require('worker_threads').Worker)('1', { eval: true })`,
    `process.binding('fs')`,
  ];
  for (const code of attempts) {
    const r = await runProgram('javascript', code, opts);
    assert.equal(r.status, 'failed', `should fail: ${code}`);
    assert.match(r.stderr, /ERR_ACCESS_DENIED|Access to this API has been restricted/, code);
  }
  for (const network of ['auto', 'in-process'] as const) {
    const r = await runProgram('javascript', `const s = require('net').connect(${port}, '127.0.0.1'); s.on('connect', () => process.exit(0)); s.on('error', () => process.exit(3));`, { ...opts, network });
    assert.notEqual(r.status, 'passed', network);
  }
  assert.equal(existsSync(target), false);
  assert.equal(connections, 0);
  const loop = await runProgram('javascript', 'for (;;) {}', { ...opts, timeoutMs: 1500 });
  assert.equal(loop.status, 'timeout');
});

test('javascript: memory bombs fail under the data-segment limit', { skip: sandboxInfo().prlimit ? false : 'prlimit is not available (no rlimits for Node programs)' }, async () => {
  const bomb = await runProgram('javascript', 'const a = []; for (;;) a.push(Buffer.alloc(64 * 1024 * 1024, 1));', opts);
  assert.equal(bomb.status, 'failed');
  assert.match(bomb.stderr, /allocation failed|out of memory/i);
});

test('a HumanEval-format task end to end: completions run against the tests in the sandbox (pass, fail, hang)', { skip: skipPy }, async () => {
  const fixtures = join(repoRoot, 'test', 'fixtures', 'eval');
  const index = new TaskIndex([join(fixtures, 'tasks')]);
  const completions: Record<string, string> = {
    add: '    return a + b\n',
    is_even: '    return n % 2 == 1\n',
    total: '    while True:\n        pass\n',
  };
  const seen: GenerationRequest[] = [];
  const scripted: Backend = {
    name: 'scripted',
    info: {},
    loglikelihood: () => Promise.reject(new Error('not used')),
    loglikelihoodRolling: () => Promise.reject(new Error('not used')),
    generateUntil: async (reqs) => {
      seen.push(...reqs);
      return reqs.map((r) => completions[/def (\w+)\(/.exec(r.context)![1]!]!);
    },
  };
  const samples: Record<string, unknown>[] = [];
  const res = await evaluate({ backend: scripted, tasks: [index.task('fixture_code')], dataDir: join(fixtures, 'data'), sandbox: { timeoutMs: 1500 }, onSample: (x) => samples.push(x) });
  assert.equal(res.results['fixture_code']!['pass@1,create_test'], 1 / 3);
  assert.deepEqual(samples.map((x) => (x['metrics'] as Record<string, number>)['pass@1']), [1, 0, 0]);
  assert.deepEqual(seen[0]!.until, ['\ndef', '\nclass']);
  assert.equal(seen[0]!.maxGenToks, 64);
  assert.deepEqual(samples[0]!['filtered_resps'], ['def add(a, b):\n    """Return a + b."""\n    return a + b\n']);
});
