/**
 * A learnable synthetic task: after a separator, emit the prefix reversed. Only the answer half is scored
 * (prefix targets are ignore-index), which exercises masked cross-entropy.
 */
export function reverseBatch(batch: number, length: number, vocab: number, random: () => number) {
  const sep = vocab - 1;
  const T = 2 * length;
  const tokens = new Array<number>(batch * T);
  const labels = new Array<number>(batch * T);
  for (let b = 0; b < batch; b++) {
    const prefix = Array.from({ length }, () => Math.floor(random() * (vocab - 1)));
    const seq = [...prefix, sep, ...[...prefix].reverse()];
    for (let t = 0; t < T; t++) {
      tokens[b * T + t] = seq[t]!;
      labels[b * T + t] = t >= length ? seq[t + 1]! : -100;
    }
  }
  return {
    input_ids: { dtype: 'int64' as const, shape: [batch, T], data: tokens },
    labels: { dtype: 'int64' as const, shape: [batch, T], data: labels },
  };
}
