/** Scores a segmenter against hand-labelled words (`word<TAB>stem|rest` lines, `#` comments). */
import { readFile } from 'node:fs/promises';
import type { MorphemeSegmenter } from './segmenter.js';

export interface SegmentationScore {
  words: number;
  /** Share of words whose cuts are exactly the labelled ones. */
  exact: number;
  /** Of the cuts made, the share that are labelled; of the labelled cuts, the share made. */
  precision: number;
  recall: number;
  misses: { word: string; expected: string; got: string }[];
}

export async function readGold(path: string): Promise<[string, string][]> {
  const text = await readFile(path, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'))
    .map((l) => l.split('\t') as [string, string]);
}

export function scoreSegmenter(seg: MorphemeSegmenter, gold: [string, string][]): SegmentationScore {
  let exact = 0;
  let made = 0;
  let labelled = 0;
  let correct = 0;
  const misses: SegmentationScore['misses'] = [];
  for (const [word, expected] of gold) {
    const got = seg.split(word).join('|');
    const want = cutSet(expected);
    const have = cutSet(got);
    made += have.size;
    labelled += want.size;
    for (const c of have) if (want.has(c)) correct++;
    if (got === expected) exact++;
    else misses.push({ word, expected, got });
  }
  return {
    words: gold.length,
    exact: exact / gold.length,
    precision: made ? correct / made : 1,
    recall: labelled ? correct / labelled : 1,
    misses,
  };
}

function cutSet(segmented: string): Set<number> {
  const cuts = new Set<number>();
  let offset = 0;
  for (const piece of segmented.split('|').slice(0, -1)) cuts.add((offset += piece.length));
  return cuts;
}
