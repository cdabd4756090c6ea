/**
 * Char-level BPE with `continuing_subword_prefix` (and `end_of_word_suffix`): vocabularies and merges trained here on
 * the fixture lines the way HF's BpeTrainer makes them (every char but a word's first carries the prefix; a merge's
 * result drops its right side's prefix), then encoded by kolm and by HF tokenizers' Rust build, which must agree on
 * every id and decode — with the unknown token (fused or not), byte fallback (complete or partial byte tokens),
 * ignore_merges, a multi-byte prefix and a merge whose right side lacks the prefix.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '../../src/tokenizer/index.js';
import { KolmError } from '../../src/util/errors.js';
import { allFixtureLines, randomText, rng } from './tokenizer-helpers.js';

const rust = createRequire(import.meta.url)('@anush008/tokenizers') as typeof import('@anush008/tokenizers');

type Json = Record<string, any>;

const next = rng(31);
const LINES = allFixtureLines();
const TEXTS = [
  ...LINES.filter((_, i) => i % 3 === 0),
  ...Array.from({ length: 800 }, () => randomText(next, 12)),
  '학교에서 공부했다. 공부 공부하고 hello world ABC abc',
  'unrelated relatedness HTTPServer parseJSON_v2 x1y22z333 ①②③ ﬁ',
  '뷁 똠방각하 햏 — rare chars next to known ones: a뷁b 뷁뷁 ab뷁뷁cd',
];

/** A word's symbols as HF's BpeTrainer spells them. */
function symbols(word: string, prefix: string, suffix: string): string[] {
  const chars = [...word];
  return chars.map((c, i) => (i > 0 ? prefix : '') + c + (i === chars.length - 1 ? suffix : ''));
}

/**
 * A small BPE trained on the fixture lines' words (split at whitespace and punctuation, roughly as the Whitespace
 * pre-tokenizer does): symbols seen at least twice form the alphabet; each step merges the most frequent pair
 * (ties: the smaller pair text), the result dropping the right side's prefix.
 */
function train(prefix: string, suffix: string, mergeCount: number): { vocab: Map<string, number>; merges: [string, string][] } {
  const freq = new Map<string, number>();
  for (const line of LINES) for (const w of line.match(/[\p{L}\p{M}\p{N}_]+|[^\s\p{L}\p{M}\p{N}_]+/gu) ?? []) freq.set(w, (freq.get(w) ?? 0) + 1);
  const words = [...freq].map(([w, n]) => ({ sym: symbols(w, prefix, suffix), n }));
  const symCount = new Map<string, number>();
  for (const { sym, n } of words) for (const s of sym) symCount.set(s, (symCount.get(s) ?? 0) + n);
  const vocab = new Map<string, number>([['[UNK]', 0]]);
  for (const s of [...symCount.keys()].filter((s) => symCount.get(s)! >= 2).sort()) vocab.set(s, vocab.size);
  for (const w of words) if (w.sym.some((s) => !vocab.has(s))) w.n = 0; // words with unknown symbols do not train
  const merges: [string, string][] = [];
  while (merges.length < mergeCount) {
    const pairs = new Map<string, number>();
    for (const { sym, n } of words) for (let i = 0; n > 0 && i + 1 < sym.length; i++) pairs.set(`${sym[i]} ${sym[i + 1]}`, (pairs.get(`${sym[i]} ${sym[i + 1]}`) ?? 0) + n);
    let best: string | undefined;
    for (const [p, n] of pairs) if (!best || n > pairs.get(best)! || (n === pairs.get(best)! && p < best)) best = p;
    if (!best) break;
    const [a, b] = best.split(' ') as [string, string];
    const merged = a + (b.startsWith(prefix) ? b.slice(prefix.length) : b);
    merges.push([a, b]);
    if (!vocab.has(merged)) vocab.set(merged, vocab.size);
    for (const w of words) {
      const out: string[] = [];
      for (let i = 0; i < w.sym.length; i++) {
        if (i + 1 < w.sym.length && w.sym[i] === a && w.sym[i + 1] === b) out.push(merged), i++;
        else out.push(w.sym[i]!);
      }
      w.sym = out;
    }
  }
  return { vocab, merges };
}

const trained = new Map<string, ReturnType<typeof train>>();

function tokenizerJson(prefix: string, suffix: string, model: Json = {}, mergeCount = 300): Json {
  const key = `${prefix} ${suffix} ${mergeCount}`;
  if (!trained.has(key)) trained.set(key, train(prefix, suffix, mergeCount));
  const { vocab, merges } = trained.get(key)!;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: 0, content: '[UNK]', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: null,
    decoder: null,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '[UNK]',
      continuing_subword_prefix: prefix || null,
      end_of_word_suffix: suffix || null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab),
      merges: merges.map(([a, b]) => `${a} ${b}`),
      ...model,
    },
  };
}

/** Adds `<0xXX>` tokens for the bytes `from`..`to` and turns on byte fallback. */
function withBytes(j: Json, from: number, to: number): Json {
  const vocab = j.model.vocab as Record<string, number>;
  let id = Object.keys(vocab).length;
  for (let b = from; b <= to; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = id++;
  j.model.byte_fallback = true;
  return j;
}

async function compare(json: Json): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kolm-tok-prefix-'));
  try {
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(json));
    const tok = await Tokenizer.load(dir);
    const peer = rust.Tokenizer.fromFile(join(dir, 'tokenizer.json'));
    const theirs: number[][] = [];
    for (const e of await peer.encodeBatch(TEXTS, { addSpecialTokens: true })) theirs.push(e.getIds());
    let merged = 0;
    TEXTS.forEach((s, i) => {
      const ids = tok.encode(s, { allowSpecial: true });
      assert.deepEqual(ids, theirs[i], JSON.stringify(s));
      merged += ids.filter((id) => (tok.idToToken(id)?.replace(json.model.continuing_subword_prefix ?? '', '').length ?? 0) > 1).length;
    });
    assert.ok(merged > 1000, `${merged} merged tokens: the merges apply`);
    for (let i = 0; i < theirs.length; i += 3) {
      assert.equal(tok.decode(theirs[i]!), await peer.decode(theirs[i]!, false), `decode ${JSON.stringify(TEXTS[i])}`);
      assert.equal(tok.decode(theirs[i]!, { skipSpecial: true }), await peer.decode(theirs[i]!, true), `decode skipping specials ${JSON.stringify(TEXTS[i])}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const variants: [string, () => Json][] = [
  ['prefix "##", unknown token not fused', () => tokenizerJson('##', '')],
  ['prefix "##", unknown token fused', () => tokenizerJson('##', '', { fuse_unk: true })],
  ['prefix "##", byte fallback with all 256 byte tokens', () => withBytes(tokenizerJson('##', ''), 0, 255)],
  // Chars beyond ASCII miss some byte tokens: the unknown token waits behind byte tokens of later chars, as in Rust.
  ['prefix "##", byte fallback with ASCII byte tokens only, fused unknown', () => withBytes(tokenizerJson('##', '', { fuse_unk: true }), 0, 0x7f)],
  ['prefix "##", byte fallback with ASCII byte tokens only, unknown not fused', () => withBytes(tokenizerJson('##', ''), 0, 0x7f)],
  ['prefix "##" and suffix "</w>"', () => tokenizerJson('##', '</w>')],
  ['suffix "</w>" only', () => tokenizerJson('', '</w>')],
  ['prefix "##", ignore_merges', () => tokenizerJson('##', '', { ignore_merges: true })],
  ['multi-byte prefix "◆" (cut by its UTF-8 length)', () => tokenizerJson('◆', '')],
  ['a merge whose right side lacks the prefix (its first bytes are cut all the same)', () => {
    const j = tokenizerJson('##', '');
    const vocab = j.model.vocab as Record<string, number>;
    vocab['ab'] ??= Object.keys(vocab).length;
    vocab['abc'] ??= Object.keys(vocab).length;
    vocab['a'] ??= Object.keys(vocab).length;
    j.model.merges.push('a abc'); // "a" + "abc" without its first 2 bytes = "ac"
    vocab['ac'] ??= Object.keys(vocab).length;
    return j;
  }],
];

for (const [name, make] of variants) {
  test(`char-level BPE, ${name}: kolm's ids and decodes equal the Rust peer's`, async () => {
    await compare(make());
  });
}

test('a merge whose right side is shorter than the prefix is refused with the merge named', async () => {
  const j = tokenizerJson('##', '', {}, 20);
  const vocab = j.model.vocab as Record<string, number>;
  vocab['x'] ??= Object.keys(vocab).length;
  j.model.merges.push('x x');
  const dir = await mkdtemp(join(tmpdir(), 'kolm-tok-prefix-'));
  try {
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(j));
    await assert.rejects(Tokenizer.load(dir), (e: unknown) => e instanceof KolmError && /model\.merges\[20\] "x x".*continuing_subword_prefix/.test(e.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
