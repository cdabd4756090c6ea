/**
 * Fill-in-the-middle (Bavarian et al., 2022) at the character level: a document is cut at two random points into
 * prefix/middle/suffix, each part is encoded separately, and the parts are arranged as
 *   PSM: <fim_prefix> prefix <fim_suffix> suffix <fim_middle> middle
 *   SPM: <fim_prefix> <fim_suffix> suffix <fim_middle> prefix middle
 * so the model learns to produce the middle after seeing both sides. Both modes are used (joint PSM + SPM).
 */
import type { Rng } from '../util/random.js';
import { FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX, type TextTokenizer } from './types.js';
import { KolmError } from '../util/errors.js';

export interface FimOptions {
  /** Fraction of code documents transformed. */
  rate: number;
  /** Of the transformed documents, the fraction arranged as SPM (the rest PSM). */
  spmRate: number;
  /** Language labels the transform applies to. */
  langs: string[];
}

export const defaultFim: FimOptions = { rate: 0.5, spmRate: 0.5, langs: ['code'] };

export interface FimTokens { prefix: number; middle: number; suffix: number; }

export function fimTokens(tok: TextTokenizer): FimTokens {
  const ids = [FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX].map((t) => tok.tokenId(t));
  if (ids.some((id) => id === undefined)) {
    throw new KolmError(`tokenizer lacks the FIM special tokens ${FIM_PREFIX} ${FIM_MIDDLE} ${FIM_SUFFIX}; set fim.rate to 0 or retrain it with them`);
  }
  return { prefix: ids[0]!, middle: ids[1]!, suffix: ids[2]! };
}

/** Two sorted cut points in [0, text.length], never inside a surrogate pair. */
function cuts(text: string, rng: Rng): [number, number] {
  const at = () => {
    let i = rng.int(text.length + 1);
    if (i > 0 && i < text.length && (text.charCodeAt(i) & 0xfc00) === 0xdc00) i--;
    return i;
  };
  const a = at(), b = at();
  return a <= b ? [a, b] : [b, a];
}

export function fimTransform(text: string, tok: TextTokenizer, ids: FimTokens, spm: boolean, rng: Rng): number[] {
  const [i, j] = cuts(text, rng);
  const prefix = tok.encode(text.slice(0, i));
  const middle = tok.encode(text.slice(i, j));
  const suffix = tok.encode(text.slice(j));
  return spm
    ? [ids.prefix, ids.suffix, ...suffix, ids.middle, ...prefix, ...middle]
    : [ids.prefix, ...prefix, ids.suffix, ...suffix, ids.middle, ...middle];
}

/**
 * Undo the arrangement: the original document's text. Needs the PSM/SPM layout and no stray FIM tokens inside parts;
 * in SPM the prefix/middle boundary is not marked, so the prefix+middle tokens are decoded together.
 */
export function fimRestore(seq: ArrayLike<number>, tok: TextTokenizer, ids: FimTokens): string {
  const a = Array.from(seq);
  if (a[0] !== ids.prefix) throw new Error('not a FIM sequence');
  const s = a.indexOf(ids.suffix);
  const m = a.indexOf(ids.middle);
  if (s < 0 || m < s) throw new Error('malformed FIM sequence');
  // SPM (a PSM with an empty prefix has the same layout and restores the same way).
  if (s === 1) return tok.decode(a.slice(m + 1)) + tok.decode(a.slice(2, m));
  return tok.decode(a.slice(1, s)) + tok.decode(a.slice(m + 1)) + tok.decode(a.slice(s + 1, m));
}
