import type { DType, NDArray } from '../ndarray.js';
import type { Dim } from '../shape.js';
import { ProtoWriter } from './protobuf.js';

// onnx.proto TensorProto.DataType
const DATA_TYPES: Record<DType, number> = { float32: 1, uint8: 2, int64: 7, bool: 9 };
// onnx.proto AttributeProto.AttributeType
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

export type AttrValue = number | string | number[] | { float: number };

/** Raw little-endian bytes of a tensor in its ONNX dtype. */
export function tensorBytes(value: NDArray): Uint8Array {
  // ONNX raw data is little-endian, as every host ORT runs on is: a Float32Array is viewed, not copied.
  if (value.dtype === 'float32') {
    const f = value.data instanceof Float32Array ? value.data : Float32Array.from(value.data);
    return new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
  }
  if (value.dtype === 'int64') return new Uint8Array(BigInt64Array.from(value.data, (v) => BigInt(v)).buffer);
  if (value.dtype === 'uint8') return value.data instanceof Uint8Array ? value.data : Uint8Array.from(value.data);
  return Uint8Array.from(value.data, (v) => (v ? 1 : 0));
}

export function tensorProto(name: string, value: NDArray, external?: ExternalData): ProtoWriter {
  const w = new ProtoWriter().packedInts(1, value.shape).int(2, DATA_TYPES[value.dtype]).string(8, name);
  const bytes = tensorBytes(value);
  if (!external || bytes.length < external.threshold) return w.bytes(9, bytes);
  // Large tensors go to a side file (onnx.proto external_data: location/offset/length; data_location = EXTERNAL).
  const entry = (key: string, v: string) => new ProtoWriter().string(1, key).string(2, v);
  w.message(13, entry('location', external.location)).message(13, entry('offset', String(external.size))).message(13, entry('length', String(bytes.length)));
  external.chunks.push(bytes);
  external.size += bytes.length;
  return w.int(14, 1);
}

/** Initializer bytes collected for a model's external data file. */
export interface ExternalData {
  location: string;
  threshold: number;
  chunks: Uint8Array[];
  size: number;
}

export function valueInfo(name: string, dtype: DType, shape: readonly Dim[]): ProtoWriter {
  const dims = new ProtoWriter();
  for (const d of shape) dims.message(1, typeof d === 'number' ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d));
  const tensorType = new ProtoWriter().int(1, DATA_TYPES[dtype]).message(2, dims);
  return new ProtoWriter().string(1, name).message(2, new ProtoWriter().message(1, tensorType));
}

/** Collects the NodeProtos and initializers of one ONNX graph while ops lower themselves into it. */
export class OnnxBuilder {
  readonly nodes: ProtoWriter[] = [];
  readonly initializers: ProtoWriter[] = [];
  /** Operator-set domains besides the default one that nodes use (e.g. `com.microsoft` for MatMulNBits). */
  readonly domains = new Set<string>();
  private readonly int64Cache = new Map<string, string>();
  private counter = 0;

  constructor(private readonly external?: ExternalData) {}

  tmp(prefix = 't'): string {
    return `_${prefix}${this.counter++}`;
  }

  dataType(dtype: DType): number {
    return DATA_TYPES[dtype];
  }

  node(opType: string, inputs: readonly string[], outputs: readonly string[], attrs: Record<string, AttrValue> = {}, domain = ''): void {
    const w = new ProtoWriter();
    for (const i of inputs) w.string(1, i);
    for (const o of outputs) w.string(2, o);
    w.string(3, `${opType}_${this.nodes.length}`).string(4, opType);
    for (const [name, value] of Object.entries(attrs)) w.message(5, attribute(name, value));
    if (domain) {
      w.string(7, domain);
      this.domains.add(domain);
    }
    this.nodes.push(w);
  }

  initializer(name: string, value: NDArray): string {
    this.initializers.push(tensorProto(name, value, this.external));
    return name;
  }

  /** A 1-D int64 constant (shapes, axes, pads), shared between nodes that use the same values. */
  int64s(values: readonly number[]): string {
    const key = values.join(',');
    let name = this.int64Cache.get(key);
    if (!name) {
      name = this.initializer(this.tmp('i64_'), { dtype: 'int64', shape: [values.length], data: Float64Array.from(values) });
      this.int64Cache.set(key, name);
    }
    return name;
  }

  /** Float zeros with the runtime shape of `like`; nothing stored in the file. */
  zerosLike(like: string): string {
    const shape = this.tmp('shape');
    const zeros = this.tmp('zeros');
    this.node('Shape', [like], [shape]);
    this.node('ConstantOfShape', [shape], [zeros]);
    return zeros;
  }
}

function attribute(name: string, value: AttrValue): ProtoWriter {
  const w = new ProtoWriter().string(1, name);
  if (typeof value === 'number') return w.int(3, value).int(20, ATTR.INT);
  if (typeof value === 'string') return w.string(4, value).int(20, ATTR.STRING);
  if (Array.isArray(value)) return w.packedInts(8, value).int(20, ATTR.INTS);
  return w.float(2, value.float).int(20, ATTR.FLOAT);
}
