import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { run } from '../../src/cli/tokenizer.js';
import { Tokenizer } from '../../src/tokenizer/index.js';
import { KolmError } from '../../src/util/errors.js';
import { FIXTURES } from './tokenizer-helpers.js';

const MAIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.js');

async function kolm(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [MAIN, 'tokenizer', ...args], { maxBuffer: 1 << 26 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('kolm tokenizer train / encode / decode / stats', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kolm-tok-cli-'));
  try {
    const out = join(dir, 'tok');
    const ko = join(FIXTURES, 'ko.txt');
    const trained = await kolm('train', '--input', ko, join(FIXTURES, 'en.txt'), '--vocab-size', '800', '--out', out,
      '--lexicon', join(FIXTURES, 'hunspell-ko-excerpt.aff'), '--max-bytes', '150k');
    assert.equal(trained.code, 0, trained.stderr);
    assert.match(trained.stderr, /cut into morphemes/);
    const tok = await Tokenizer.load(out);
    assert.equal(tok.vocabSize, 800);

    const text = '학교에서 공부했다 <|endoftext|> 123';
    const plain = await kolm('encode', '--tokenizer', out, '--text', text);
    assert.equal(plain.stdout.trim(), tok.encode(text).join(' '));
    const json = await kolm('encode', '--tokenizer', out, '--text', text, '--json', '--allow-special');
    assert.deepEqual(JSON.parse(json.stdout), { ids: tok.encode(text, { allowSpecial: true }) });

    const lines = ['첫 줄', '', 'second <|im_start|> line', '셋째 줄 3'];
    const file = join(dir, 'lines.txt');
    await writeFile(file, lines.join('\n') + '\n');
    const perLine = await kolm('encode', '--tokenizer', out, '--file', file, '--json');
    assert.deepEqual(perLine.stdout.trim().split('\n').map((l) => JSON.parse(l).ids), lines.map((l) => tok.encode(l)));

    const decoded = await kolm('decode', '--tokenizer', out, '--ids', tok.encode(text, { allowSpecial: true }).join(','));
    assert.equal(decoded.stdout, text + '\n');
    const skipped = await kolm('decode', '--tokenizer', out, '--ids', tok.encode(text, { allowSpecial: true }).join(','), '--skip-special');
    assert.equal(skipped.stdout, '학교에서 공부했다  123\n');

    const stats = await kolm('stats', '--tokenizer', out, '--file', ko, '--json');
    const s = JSON.parse(stats.stdout);
    assert.ok(s.ko.docs > 1000 && s.ko.charsPerToken > 1 && s.ko.bytesPerToken > s.ko.charsPerToken);
    assert.equal(s.all.tokens, Object.entries(s).filter(([k]) => k !== 'all').reduce((n, [, v]) => n + (v as { tokens: number }).tokens, 0));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('user errors are KolmErrors naming the problem; the command prints them in one line with exit code 1', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kolm-tok-cli-err-'));
  try {
    const cases: [string[], RegExp][] = [
      [['train', '--input', join(FIXTURES, 'ko.txt'), '--vocab-size', '500'], /missing --out/],
      [['train', '--input', join(FIXTURES, 'ko.txt'), '--vocab-size', 'lots', '--out', dir], /--vocab-size must be/],
      [['train', '--input', join(dir, 'absent.txt'), '--vocab-size', '500', '--out', dir, '--no-morpheme'], /cannot read input/],
      [['encode', '--tokenizer', dir, '--text', 'x'], /tokenizer\.json/],
      [['encode', '--tokenizer', dir], /give exactly one of --text and --file/],
      [['decode', '--tokenizer', dir, '--ids', '1,x'], /--ids must be non-negative integers/],
      [['frobnicate'], /unknown tokenizer command/],
    ];
    for (const [args, message] of cases) {
      await assert.rejects(run(args), (err: unknown) => err instanceof KolmError && message.test(err.message), args.join(' '));
    }
    const r = await kolm('encode', '--tokenizer', dir, '--text', 'x');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^kolm: cannot read .*tokenizer\.json: ENOENT\n$/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
