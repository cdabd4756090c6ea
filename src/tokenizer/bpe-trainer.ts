/**
 * Learns byte-level BPE merges from word counts. Each unique word is a run of symbols in one flat array; every
 * adjacent pair has a count and a list of the words holding it. A merge rewrites only the words on its pair's list
 * and adjusts the counts of the pairs around each occurrence; a lazy max-heap (stale entries re-pushed when popped)
 * yields the next best pair. Ties go to the smaller (left id, right id), so a given input always trains the same way.
 */
import { Progress } from '../util/progress.js';
import { BYTE_TO_CHAR } from './byte-level.js';
import { PairTable } from './pair-table.js';

export interface MergeOptions {
  /** How many merges to learn at most. */
  merges: number;
  /** Stop when the best pair occurs fewer times than this. */
  minFrequency: number;
  progress?: boolean;
}

export interface LearnedBpe {
  /** id → spelling: the 256 bytes (id = byte value), then one token per merge. */
  tokens: string[];
  merges: [string, string][];
}

export function learnMerges(words: ReadonlyMap<string, number>, opts: MergeOptions): LearnedBpe {
  const encoder = new TextEncoder();
  const wordCount = words.size;
  const counts = new Float64Array(wordCount);
  const starts = new Int32Array(wordCount);
  const lengths = new Int32Array(wordCount);
  const encoded: Uint8Array[] = [];
  let total = 0;
  for (const [word, n] of words) {
    const bytes = encoder.encode(word);
    counts[encoded.length] = n;
    starts[encoded.length] = total;
    lengths[encoded.length] = bytes.length;
    encoded.push(bytes);
    total += bytes.length;
  }
  const symbols = new Int32Array(total);
  encoded.forEach((bytes, w) => symbols.set(bytes, starts[w]));
  encoded.length = 0;

  const pairs = new Pairs();
  for (let w = 0; w < wordCount; w++) {
    const end = starts[w]! + lengths[w]!;
    for (let i = starts[w]!; i + 1 < end; i++) pairs.add(symbols[i]!, symbols[i + 1]!, counts[w]!, w);
  }
  const heap = new PairHeap(pairs);
  for (let p = 0; p < pairs.size; p++) heap.push(p);

  const tokens = BYTE_TO_CHAR.slice();
  const merges: [string, string][] = [];
  const visited = new Int32Array(wordCount).fill(-1);
  const bar = new Progress('bpe merges', opts.merges, 'merges', opts.progress ?? true);
  while (merges.length < opts.merges && heap.size > 0) {
    const p = heap.pop();
    const count = pairs.count[p]!;
    if (count !== heap.poppedCount) {
      if (count > 0) heap.push(p); // stale: re-queue at its current count
      continue;
    }
    if (count < Math.max(opts.minFrequency, 1)) break;
    const a = pairs.left[p]!;
    const b = pairs.right[p]!;
    const merged = tokens.length;
    tokens.push(tokens[a]! + tokens[b]!);
    merges.push([tokens[a]!, tokens[b]!]);
    pairs.beginMerge();
    for (const w of pairs.takeWords(p)) {
      if (visited[w] === merged) continue;
      visited[w] = merged;
      const n = counts[w]!;
      const start = starts[w]!;
      const end = start + lengths[w]!;
      let out = start;
      for (let i = start; i < end; ) {
        if (symbols[i] === a && i + 1 < end && symbols[i + 1] === b) {
          if (out > start) {
            pairs.add(symbols[out - 1]!, a, -n, w);
            pairs.add(symbols[out - 1]!, merged, n, w);
          }
          if (i + 2 < end) {
            pairs.add(b, symbols[i + 2]!, -n, w);
            pairs.add(merged, symbols[i + 2]!, n, w);
          }
          symbols[out++] = merged;
          i += 2;
        } else {
          symbols[out++] = symbols[i++]!;
        }
      }
      lengths[w] = out - start;
    }
    pairs.count[p] = 0;
    for (const q of pairs.grown()) if (pairs.count[q]! > 0) heap.push(q);
    bar.tick(1);
  }
  bar.finish(`${merges.length} merges, vocab ${tokens.length}`);
  return { tokens, merges };
}

/** Pair statistics in growable typed arrays, indexed by a dense pair number. */
class Pairs {
  private readonly index = new PairTable(1 << 16);
  left = new Int32Array(1 << 16);
  right = new Int32Array(1 << 16);
  count = new Float64Array(1 << 16);
  private lastWord = new Int32Array(1 << 16);
  private words: (number[] | undefined)[] = [];
  private grownList: number[] = [];
  private grownMark = new Int32Array(1 << 16);
  private mergeNo = 0;
  size = 0;

  /** Adds `n` (negative to remove) occurrences of (a, b) in word `w`. */
  add(a: number, b: number, n: number, w: number): void {
    let p = this.index.get(a, b);
    if (p < 0) {
      p = this.size++;
      if (p === this.left.length) this.growArrays();
      this.index.set(a, b, p);
      this.left[p] = a;
      this.right[p] = b;
      this.lastWord[p] = -1;
    }
    this.count[p]! += n;
    if (n > 0) {
      if (this.lastWord[p] !== w) {
        this.lastWord[p] = w;
        (this.words[p] ??= []).push(w);
      }
      if (this.grownMark[p] !== this.mergeNo) {
        this.grownMark[p] = this.mergeNo;
        this.grownList.push(p);
      }
    }
  }

  /** The words that held pair p (some may no longer), releasing the list. */
  takeWords(p: number): number[] {
    const list = this.words[p] ?? [];
    this.words[p] = undefined;
    return list;
  }

  beginMerge(): void {
    this.mergeNo++;
    this.grownList = [];
  }

  /** Pairs whose count rose during the current merge. */
  grown(): number[] {
    return this.grownList;
  }

  private growArrays(): void {
    const n = this.left.length * 2;
    const grow = <T extends Int32Array | Float64Array>(old: T, make: (n: number) => T): T => {
      const next = make(n);
      next.set(old);
      return next;
    };
    this.left = grow(this.left, (k) => new Int32Array(k));
    this.right = grow(this.right, (k) => new Int32Array(k));
    this.count = grow(this.count, (k) => new Float64Array(k));
    this.lastWord = grow(this.lastWord, (k) => new Int32Array(k));
    this.grownMark = grow(this.grownMark, (k) => new Int32Array(k));
  }
}

/** Max-heap of (count, pair) snapshots; ties prefer the smaller (left, right). */
class PairHeap {
  private counts = new Float64Array(1 << 16);
  private ids = new Int32Array(1 << 16);
  size = 0;
  /** The count the last popped entry was pushed with. */
  poppedCount = 0;

  constructor(private readonly pairs: Pairs) {}

  private before(c1: number, p1: number, c2: number, p2: number): boolean {
    if (c1 !== c2) return c1 > c2;
    const { left, right } = this.pairs;
    return left[p1] !== left[p2] ? left[p1]! < left[p2]! : right[p1]! < right[p2]!;
  }

  push(p: number): void {
    if (this.size === this.ids.length) {
      const counts = new Float64Array(this.size * 2);
      counts.set(this.counts);
      const ids = new Int32Array(this.size * 2);
      ids.set(this.ids);
      this.counts = counts;
      this.ids = ids;
    }
    const c = this.pairs.count[p]!;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(c, p, this.counts[parent]!, this.ids[parent]!)) break;
      this.counts[i] = this.counts[parent]!;
      this.ids[i] = this.ids[parent]!;
      i = parent;
    }
    this.counts[i] = c;
    this.ids[i] = p;
  }

  pop(): number {
    const top = this.ids[0]!;
    this.poppedCount = this.counts[0]!;
    const c = this.counts[--this.size]!;
    const p = this.ids[this.size]!;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= this.size) break;
      if (child + 1 < this.size && this.before(this.counts[child + 1]!, this.ids[child + 1]!, this.counts[child]!, this.ids[child]!)) child++;
      if (!this.before(this.counts[child]!, this.ids[child]!, c, p)) break;
      this.counts[i] = this.counts[child]!;
      this.ids[i] = this.ids[child]!;
      i = child;
    }
    this.counts[i] = c;
    this.ids[i] = p;
    return top;
  }
}
