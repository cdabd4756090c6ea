import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { learnMerges } from '../../src/tokenizer/bpe-trainer.js';
import { BYTE_TO_CHAR } from '../../src/tokenizer/byte-level.js';
import { readCorpus } from '../../src/tokenizer/corpus.js';
import { trainTokenizer, trainTokenizerWithStats } from '../../src/tokenizer/index.js';
import { KolmError } from '../../src/util/errors.js';
import { fixtureLines, rng } from './tokenizer-helpers.js';

const merges = (words: Record<string, number>, n = 100, minFrequency = 1): string[] =>
  learnMerges(new Map(Object.entries(words)), { merges: n, minFrequency, progress: false }).merges.map(([a, b]) => `${a} ${b}`);

test('merges follow pair counts, stop at the minimum frequency, and break ties by the smaller pair', () => {
  assert.deepEqual(merges({ ab: 5, abc: 3, bc: 1 }, 100, 2), ['a b', 'ab c']);
  assert.deepEqual(merges({ ab: 5, abc: 3, bc: 1 }, 100, 1), ['a b', 'ab c', 'b c']);
  assert.deepEqual(merges({ xy: 2, ab: 2 }), ['a b', 'x y']);
  assert.deepEqual(merges({ aaaa: 1 }), ['a a', 'aa aa']);
  assert.deepEqual(merges({ ab: 5, abc: 3 }, 1), ['a b']);
});

/** The textbook algorithm: recount every pair of every word before each merge. */
function naiveMerges(words: Map<string, number>, n: number): string[] {
  const enc = new TextEncoder();
  const seqs = [...words].map(([w, c]) => ({ s: [...enc.encode(w)].map((b) => BYTE_TO_CHAR[b]!), c }));
  const vocab = BYTE_TO_CHAR.slice();
  const out: string[] = [];
  while (out.length < n) {
    const counts = new Map<string, { a: string; b: string; n: number }>();
    for (const { s, c } of seqs) {
      for (let i = 0; i + 1 < s.length; i++) {
        const key = s[i] + '\u0000' + s[i + 1];
        const e = counts.get(key) ?? { a: s[i]!, b: s[i + 1]!, n: 0 };
        e.n += c;
        counts.set(key, e);
      }
    }
    let best: { a: string; b: string; n: number } | undefined;
    const id = (t: string): number => vocab.indexOf(t);
    for (const e of counts.values()) {
      if (!best || e.n > best.n || (e.n === best.n && (id(e.a) < id(best.a) || (e.a === best.a && id(e.b) < id(best.b))))) best = e;
    }
    if (!best || best.n < 1) break;
    out.push(`${best.a} ${best.b}`);
    vocab.push(best.a + best.b);
    for (const seq of seqs) {
      const s: string[] = [];
      for (let i = 0; i < seq.s.length; i++) {
        if (i + 1 < seq.s.length && seq.s[i] === best.a && seq.s[i + 1] === best.b) {
          s.push(best.a + best.b);
          i++;
        } else s.push(seq.s[i]!);
      }
      seq.s = s;
    }
  }
  return out;
}

test('incremental pair counting learns exactly the merges of the recount-everything algorithm', () => {
  const next = rng(21);
  const words = new Map<string, number>();
  const alphabet = ['a', 'b', 'c', 'ab', ' ', '가', '나', 'ㅎ', '😀', 'aa'];
  for (let i = 0; i < 300; i++) {
    let w = '';
    const len = 1 + Math.floor(next() * 6);
    for (let j = 0; j < len; j++) w += alphabet[Math.floor(next() * alphabet.length)];
    words.set(w, (words.get(w) ?? 0) + 1 + Math.floor(next() * 20));
  }
  const learned = learnMerges(words, { merges: 120, minFrequency: 1, progress: false }).merges.map(([a, b]) => `${a} ${b}`);
  assert.deepEqual(learned, naiveMerges(words, 120));
});

test('training is deterministic and the vocabulary has every byte, the merges and the specials', async () => {
  const texts = fixtureLines('ko').slice(0, 400);
  const a = await trainTokenizer({ texts, vocabSize: 1200, morpheme: false, progress: false });
  const b = await trainTokenizer({ texts, vocabSize: 1200, morpheme: false, progress: false });
  assert.equal(a.hash, b.hash);
  assert.equal(a.vocabSize, 1200);
  for (let byte = 0; byte < 256; byte++) assert.equal(a.tokenId(BYTE_TO_CHAR[byte]!), byte);
  const rare = await trainTokenizer({ texts: ['ab ab'], vocabSize: 1200, morpheme: false, progress: false });
  assert.equal(rare.vocabSize, 256 + 1 + 9, 'min frequency 2 stops after the only repeated pair');
  await assert.rejects(trainTokenizer({ texts, vocabSize: 260, morpheme: false, progress: false }), KolmError);
});

test('the corpus reader streams JSONL, gzip and plain text, and stops at max bytes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kolm-tok-corpus-'));
  try {
    const jsonl = join(dir, 'a.jsonl');
    const gz = join(dir, 'b.jsonl.gz');
    const txt = join(dir, 'c.txt');
    await writeFile(jsonl, '{"text":"하나"}\n\n{"text":"둘"}\n');
    await writeFile(gz, gzipSync('{"ko":"셋","en":"three"}\n'));
    await writeFile(txt, 'line one\nline two\n');
    const all: string[] = [];
    for await (const t of readCorpus([jsonl, gz, txt])) all.push(t);
    assert.deepEqual(all, ['하나', '둘', '셋', 'three', 'line one\nline two\n']);
    const some: string[] = [];
    for await (const t of readCorpus([jsonl, gz, txt], { maxBytes: 7 })) some.push(t);
    assert.deepEqual(some, ['하나', '둘']);
    await writeFile(jsonl, '{"text":"ok"}\n{oops\n');
    await assert.rejects(async () => {
      for await (const _ of readCorpus([jsonl]));
    }, /a\.jsonl:2: not valid JSON/);
    await writeFile(jsonl, '{"body":"x"}\n');
    await assert.rejects(async () => {
      for await (const _ of readCorpus([jsonl]));
    }, /a\.jsonl:1: record has no string field "text"/);
    const { stats } = await trainTokenizerWithStats({ input: [txt], vocabSize: 300, morpheme: false, progress: false });
    assert.equal(stats.textBytes, Buffer.byteLength('line one\nline two\n'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
