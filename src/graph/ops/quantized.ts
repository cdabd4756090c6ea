/**
 * `matmulNBits`: x [..., K] by a block-quantized weight [N, K] → [..., N], lowered to ONNX Runtime's
 * `com.microsoft.MatMulNBits`, so quantized weights stay quantized in the graph. Inputs: x, the packed blocks
 * (uint8 [N, K/block, block·bits/8]: 4-bit values two to a byte, low nibble first) and the scales (float [N·K/block]);
 * a weight is (q − 2^(bits−1))·scale (the kernel's default zero point, i.e. symmetric quantization). Inference only:
 * there is no gradient.
 */
import { ndarray } from '../ndarray.js';
import { defineOp } from '../registry.js';
import { requireFloat } from './util.js';

export interface NBitsAttrs {
  K: number;
  N: number;
  bits: 4 | 8;
  blockSize: number;
  /** MatMulNBits accuracy_level: 0 computes in float32; 4 quantizes activations to int8 per block (faster). */
  accuracyLevel: number;
}

defineOp({
  name: 'matmulNBits',
  infer: ([x, blocks, scales], attrs) => {
    const { K, N, bits, blockSize } = attrs as unknown as NBitsAttrs;
    requireFloat(x!, 'input');
    if (bits !== 4 && bits !== 8) throw new Error(`bits must be 4 or 8 (got ${bits})`);
    if (blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) throw new Error(`block size must be a power of two >= 16 (got ${blockSize})`);
    if (x!.shape[x!.rank - 1] !== K) throw new Error(`input's last dim ${x!.shape[x!.rank - 1]} is not K = ${K}`);
    const kBlocks = Math.ceil(K / blockSize);
    const blob = (blockSize * bits) / 8;
    const want = [N, kBlocks, blob];
    if (blocks!.dtype !== 'uint8' || blocks!.shape.length !== 3 || blocks!.shape.some((d, i) => d !== want[i])) {
      throw new Error(`blocks must be uint8 [${want.join(', ')}] (got [${blocks!.shape.join(', ')}]:${blocks!.dtype})`);
    }
    if (scales!.dtype !== 'float32' || scales!.shape.length !== 1 || scales!.shape[0] !== N * kBlocks) {
      throw new Error(`scales must be float32 [${N * kBlocks}] (got [${scales!.shape.join(', ')}]:${scales!.dtype})`);
    }
    return { shape: [...x!.shape.slice(0, -1), N], dtype: x!.dtype };
  },
  evaluate: ([x, blocks, scales], attrs, outShape) => {
    const { K, N, bits, blockSize } = attrs as unknown as NBitsAttrs;
    const w = dequantizeBlocks(blocks!.data, scales!.data, { K, N, bits, blockSize });
    const rows = x!.data.length / K;
    const out = ndarray(x!.dtype, outShape);
    for (let r = 0; r < rows; r++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += x!.data[r * K + k]! * w[n * K + k]!;
        out.data[r * N + n] = s;
      }
    }
    return out;
  },
  onnx: (b, node, ins, out) => {
    const { K, N, bits, blockSize, accuracyLevel } = node.attrs as unknown as NBitsAttrs;
    b.node('MatMulNBits', ins, [out], { K, N, bits, block_size: blockSize, accuracy_level: accuracyLevel }, 'com.microsoft');
  },
});

/** The float weights [N, K] that packed blocks and scales stand for (MatMulNBits' semantics, default zero points). */
export function dequantizeBlocks(
  blocks: ArrayLike<number>,
  scales: ArrayLike<number>,
  s: { K: number; N: number; bits: 4 | 8; blockSize: number },
): Float64Array {
  const kBlocks = Math.ceil(s.K / s.blockSize);
  const blob = (s.blockSize * s.bits) / 8;
  const zero = 1 << (s.bits - 1);
  const w = new Float64Array(s.N * s.K);
  for (let n = 0; n < s.N; n++) {
    for (let k = 0; k < s.K; k++) {
      const block = Math.floor(k / s.blockSize);
      const j = k % s.blockSize;
      const at = (n * kBlocks + block) * blob;
      const q = s.bits === 8 ? blocks[at + j]! : (blocks[at + (j >> 1)]! >> ((j & 1) * 4)) & 15;
      w[n * s.K + k] = (q - zero) * scales[n * kBlocks + block]!;
    }
  }
  return w;
}
