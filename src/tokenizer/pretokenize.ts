/**
 * The pre-tokenizer: Qwen2's split pattern (llama.cpp `tokenizer.ggml.pre = "qwen2"`), which isolates every digit
 * (`\p{N}`), so numbers are spelled digit by digit as NAVER's SEED tokenizer does.
 */

/** The pattern exactly as it is written into tokenizer.json, so HF tokenizers and llama.cpp split identically. */
export const QWEN2_SPLIT_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/**
 * Oniguruma's `\\s` (what the Rust peer runs) is Unicode White_Space; JavaScript's `\\s` adds U+FEFF and omits U+0085,
 * so whitespace is spelled out here to split exactly like the peer.
 */
const WS = '[\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';

/**
 * Letters and digits that Node's ICU (Unicode 16/17) knows but the Rust peer's Oniguruma tables do not; the peer
 * treats them as symbols, and so does kolm. Found by comparing every code point against `@anush008/tokenizers`.
 */
const NEWER_LETTERS =
  '\\u088f\\u0c5c\\u0cdc\\ua7ce\\ua7cf\\ua7d2\\ua7d4\\ua7f1\\u{10940}-\\u{10959}\\u{10ec5}-\\u{10ec7}\\u{11db0}-\\u{11ddb}' +
  '\\u{16ea0}-\\u{16eb8}\\u{16ebb}-\\u{16ed3}\\u{16ff2}\\u{16ff3}\\u{187f8}-\\u{187ff}\\u{18d09}-\\u{18d1e}\\u{18d80}-\\u{18df2}' +
  '\\u{1e6c0}-\\u{1e6de}\\u{1e6e0}-\\u{1e6e2}\\u{1e6e4}\\u{1e6e5}\\u{1e6e7}-\\u{1e6ed}\\u{1e6f0}-\\u{1e6f4}\\u{1e6fe}\\u{1e6ff}' +
  '\\u{2b73a}-\\u{2b73f}\\u{2cea2}-\\u{2cead}\\u{323b0}-\\u{33479}';
const NEWER_DIGITS = '\\u{11de0}-\\u{11de9}\\u{16ff4}-\\u{16ff6}';
const L = `[\\p{L}--[${NEWER_LETTERS}]]`;
const N = `[\\p{N}--[${NEWER_DIGITS}]]`;

/** Oniguruma's `(?i:...)` folds with Unicode simple case folding, so `'s` also matches `'S` and `'ſ` (long s). */
function caseless(word: string): string {
  return [...word].map((c) => (c === 's' ? '[sSſ]' : `[${c}${c.toUpperCase()}]`)).join('');
}

const CONTRACTIONS = ['s', 't', 're', 've', 'm', 'll', 'd'].map((w) => "'" + caseless(w)).join('|');

/** The same pattern for V8 (`v` flag for class subtraction), which in Node 20 has no `(?i:...)` modifier groups. */
export const QWEN2_SPLIT_REGEX = new RegExp(
  `(?:${CONTRACTIONS})|[^\\r\\n${L}${N}]?${L}+|${N}| ?[^${WS}${L}${N}]+[\\r\\n]*|${WS}*[\\r\\n]+|${WS}+(?!${WS.replace('[', '[^')})|${WS}+`,
  'gv',
);

/**
 * Calls `emit` with each pre-token of `text` in order; the pieces concatenate back to `text`. Text the pattern does not
 * match (impossible for this pattern, kept for safety) is emitted as its own piece, as HF's `Isolated` split does.
 */
export function forEachPreToken(text: string, emit: (piece: string) => void): void {
  const re = new RegExp(QWEN2_SPLIT_REGEX);
  let last = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m.index > last) emit(text.slice(last, m.index));
    emit(m[0]);
    last = m.index + m[0].length;
  }
  if (last < text.length) emit(text.slice(last));
}

export function preTokenize(text: string): string[] {
  const out: string[] = [];
  forEachPreToken(text, (p) => out.push(p));
  return out;
}
