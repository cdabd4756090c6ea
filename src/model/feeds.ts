/**
 * The feeds of the model's graphs, built in one place: token ids, the additive attention mask with its one masking
 * constant, and rotary tables. Sequences are placed in rows of a [B, T] batch — left-padded prompts, right-padded
 * scoring rows, several packed documents per training row — and a row never attends across two sequences: the mask
 * is causal within each sequence, positions restart at 0 for each, and padding attends only to itself. A row
 * therefore computes exactly what each of its sequences computes alone.
 */
import { MASKED } from '../graph/nn.js';
import type { ModelConfig } from './config.js';
import { ropeFrequencies, ropeTables, RotaryRows } from './rope.js';

export { MASKED };

export type Feed<D extends 'float32' | 'int64'> = { dtype: D; shape: number[]; data: D extends 'int64' ? BigInt64Array : Float32Array };

export interface SequenceFeeds {
  input_ids: Feed<'int64'>;
  mask: Feed<'float32'>;
  cos: Feed<'float32'>;
  sin: Feed<'float32'>;
}

/** A sequence of a row and the offset of its first token. */
export interface Placement {
  ids: readonly number[];
  at: number;
}

/**
 * Feeds for rows of placed sequences, T positions each. Positions not covered by a sequence are padding (`padId`).
 * Rotary frequencies are those of length T (what dynamic NTK scaling uses for a sequence of that length).
 */
export function sequenceFeeds(c: ModelConfig, rows: readonly (readonly Placement[])[], T: number, padId = 0): SequenceFeeds {
  const B = rows.length;
  const ids = new BigInt64Array(B * T).fill(BigInt(padId));
  const mask = new Float32Array(B * T * T).fill(MASKED);
  const positions = new Array<number>(B * T).fill(0);
  const covered = new Uint8Array(B * T);
  rows.forEach((row, b) => {
    for (const s of row) {
      if (s.at < 0 || s.at + s.ids.length > T) throw new RangeError(`row ${b}: a sequence of ${s.ids.length} tokens at ${s.at} does not fit in ${T} positions`);
      s.ids.forEach((id, i) => {
        const t = s.at + i;
        ids[b * T + t] = BigInt(id);
        positions[b * T + t] = i;
        covered[b * T + t] = 1;
        mask.fill(0, (b * T + t) * T + s.at, (b * T + t) * T + t + 1);
      });
    }
    for (let t = 0; t < T; t++) if (!covered[b * T + t]) mask[(b * T + t) * T + t] = 0;
  });
  const { cos, sin } = ropeTables(ropeFrequencies(c, T), positions);
  const dims = [B, 1, T, c.head_dim];
  return {
    input_ids: { dtype: 'int64', shape: [B, T], data: ids },
    mask: { dtype: 'float32', shape: [B, 1, T, T], data: mask },
    cos: { dtype: 'float32', shape: dims, data: Float32Array.from(cos.data) },
    sin: { dtype: 'float32', shape: dims, data: Float32Array.from(sin.data) },
  };
}

/** Prompts left-padded to a common length T, so the last position of every row is its prompt's last token. */
export function leftPaddedFeeds(c: ModelConfig, prompts: readonly (readonly number[])[]): SequenceFeeds & { T: number; pad: number[] } {
  const T = Math.max(...prompts.map((p) => p.length));
  const pad = prompts.map((p) => T - p.length);
  return { ...sequenceFeeds(c, prompts.map((ids, b) => [{ ids, at: pad[b]! }]), T), T, pad };
}

export interface DecodeFeeds {
  input_ids: Feed<'int64'>;
  mask: Feed<'float32'>;
  cos: Feed<'float32'>;
  sin: Feed<'float32'>;
}

/**
 * Feeds of one decode step: token `tokens[b]` of each row goes to position `lengths[b]`, and sees the row's cache
 * slots 0..lengths[b]-1 of `slots`, then itself.
 */
export function decodeFeeds(c: ModelConfig, rope: RotaryRows, tokens: readonly number[], lengths: readonly number[], slots: number): DecodeFeeds {
  const B = tokens.length;
  const d = c.head_dim;
  const mask = new Float32Array(B * (slots + 1)).fill(MASKED);
  const cos = new Float32Array(B * d);
  const sin = new Float32Array(B * d);
  for (let b = 0; b < B; b++) {
    const row = b * (slots + 1);
    mask.fill(0, row, row + lengths[b]!);
    mask[row + slots] = 0;
    rope.write(lengths[b]!, cos, sin, b * d);
  }
  return {
    input_ids: { dtype: 'int64', shape: [B, 1], data: BigInt64Array.from(tokens, (t) => BigInt(t)) },
    mask: { dtype: 'float32', shape: [B, 1, 1, slots + 1], data: mask },
    cos: { dtype: 'float32', shape: [B, 1, 1, d], data: cos },
    sin: { dtype: 'float32', shape: [B, 1, 1, d], data: sin },
  };
}
