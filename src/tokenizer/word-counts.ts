/** Counting pre-tokens over a corpus: the only pass over the text; BPE training then works on unique words. */
import { QWEN2_SPLIT_REGEX } from './pretokenize.js';
import type { MorphemeSegmenter } from './morpheme/segmenter.js';

export async function countPreTokens(texts: AsyncIterable<string> | Iterable<string>): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const re = new RegExp(QWEN2_SPLIT_REGEX);
  for await (let text of texts) {
    // Same surrogate policy as encoding: a lone surrogate is U+FFFD.
    const wf = text as unknown as { isWellFormed(): boolean; toWellFormed(): string };
    if (!wf.isWellFormed()) text = wf.toWellFormed();
    const pieces = text.match(re);
    if (!pieces) continue;
    for (const piece of pieces) counts.set(piece, (counts.get(piece) ?? 0) + 1);
  }
  return counts;
}

/**
 * Re-counts words as their morphemes: each Korean word's count goes to its pieces, so no BPE merge can span a
 * stem/particle/ending boundary. Segmenting unique words (not occurrences) keeps this cheap.
 */
export function splitMorphemes(counts: ReadonlyMap<string, number>, segmenter: MorphemeSegmenter): { counts: Map<string, number>; split: number } {
  const out = new Map<string, number>();
  let split = 0;
  for (const [word, n] of counts) {
    const pieces = segmenter.split(word);
    if (pieces.length > 1) split++;
    for (const piece of pieces) out.set(piece, (out.get(piece) ?? 0) + n);
  }
  return { counts: out, split };
}
