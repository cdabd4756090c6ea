/**
 * Batches for alignment training. Sequences (conversations, preference completions, rollouts) are laid out in rows
 * of a fixed length T; several short sequences may share a row (packing). Attention never crosses two sequences:
 * the additive mask is block-diagonal and causal, and rotary positions restart at 0 for each sequence, so a packed
 * row computes exactly what each sequence computes alone.
 */
import { rng, shuffleInPlace } from '../util/random.js';
import type { ModelConfig } from '../model/config.js';
import { sequenceFeeds, type Feed, type SequenceFeeds } from '../model/feeds.js';
import { KolmError } from '../util/errors.js';

export interface TokenSequence {
  ids: readonly number[];
  /** Next-token labels, one per id (-100 = not trained). */
  labels: readonly number[];
}

/** Tensors of one batch, ready to feed: ids/labels [B, T], mask [B, 1, T, T], cos/sin [B, 1, T, D]. */
export interface BatchFeeds extends SequenceFeeds {
  labels: Feed<'int64'>;
}

export interface RowLayout {
  /** Per row: [sequence index, start offset, length] of each sequence placed in it. */
  rows: [number, number, number][][];
}

/**
 * Lay rows of sequences into [B, T] feeds. `rows[b]` lists the sequences of row b in order; positions after the
 * last sequence are padding (`padId`, label -100, attending only to themselves).
 */
export function buildBatch(config: ModelConfig, rows: readonly (readonly TokenSequence[])[], seq: number, padId: number): BatchFeeds & RowLayout {
  const T = seq;
  const labels = new BigInt64Array(rows.length * T).fill(-100n);
  const layout: RowLayout['rows'] = [];
  let counter = 0;
  const placements = rows.map((row, b) => {
    let at = 0;
    const placed: [number, number, number][] = [];
    const sequences = row.map((s) => {
      const n = s.ids.length;
      if (n !== s.labels.length) throw new KolmError(`buildBatch: sequence has ${n} ids but ${s.labels.length} labels`);
      if (at + n > T) throw new KolmError(`buildBatch: row ${b} holds ${at + n} tokens, more than the sequence length ${T}`);
      s.labels.forEach((label, i) => (labels[b * T + at + i] = BigInt(label)));
      placed.push([counter++, at, n]);
      const placement = { ids: s.ids, at };
      at += n;
      return placement;
    });
    layout.push(placed);
    return sequences;
  });
  return { ...sequenceFeeds(config, placements, T, padId), labels: { dtype: 'int64', shape: [rows.length, T], data: labels }, rows: layout };
}

export interface PackOptions {
  /** Row length T. */
  seq: number;
  /** Rows per batch B; the token budget of a batch is B × T. */
  rows: number;
  /** Shuffle seed (sequences and batch order); the plan is a pure function of the inputs and the seed. */
  seed?: number;
  /** Several sequences per row (packing, default) or one per row, grouped by length. */
  pack?: boolean;
  /** How many batches' worth of sequences are sorted by length together (default 16): bigger = less padding, less randomness. */
  groupBatches?: number;
}

export interface PackPlan {
  /** Batches of rows; each row lists sequence indices into the input array. */
  batches: number[][][];
  /** Share of the B × T positions that hold tokens. */
  fill: number;
}

/**
 * Length-grouped batching under a token budget: sequences are shuffled, taken in groups of several batches, sorted
 * by length inside a group and placed first-fit-decreasing into rows of T tokens (or one per row without packing);
 * rows form batches of B, and the batch order is shuffled. Every sequence must fit in T.
 */
export function planBatches(lengths: readonly number[], o: PackOptions): PackPlan {
  const random = rng(o.seed ?? 0);
  const pack = o.pack ?? true;
  lengths.forEach((n, i) => {
    if (n > o.seq) throw new KolmError(`planBatches: sequence ${i} has ${n} tokens, more than the row length ${o.seq}`);
    if (n < 1) throw new KolmError(`planBatches: sequence ${i} is empty`);
  });
  const order = shuffleInPlace([...lengths.keys()], random);
  const group = o.rows * (o.groupBatches ?? 16) * (pack ? Math.max(1, Math.floor(o.seq / Math.max(1, mean(lengths)))) : 1);
  const rows: number[][] = [];
  for (let g = 0; g < order.length; g += group) {
    const chunk = order.slice(g, g + group).sort((a, b) => lengths[b]! - lengths[a]!);
    if (!pack) {
      for (const i of chunk) rows.push([i]);
      continue;
    }
    const bins: { free: number; items: number[] }[] = [];
    for (const i of chunk) {
      const n = lengths[i]!;
      const bin = bins.find((b) => b.free >= n);
      if (bin) {
        bin.items.push(i);
        bin.free -= n;
      } else {
        bins.push({ free: o.seq - n, items: [i] });
      }
    }
    for (const b of bins) rows.push(b.items);
  }
  const batches: number[][][] = [];
  for (let r = 0; r < rows.length; r += o.rows) batches.push(rows.slice(r, r + o.rows));
  // A short last batch is topped up with empty rows (padding) so every batch has the compiled shape.
  const last = batches[batches.length - 1];
  if (last) while (last.length < o.rows) last.push([]);
  shuffleInPlace(batches, random);
  const used = lengths.reduce((a, b) => a + b, 0);
  return { batches, fill: batches.length ? used / (batches.length * o.rows * o.seq) : 0 };
}

function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 1;
}
