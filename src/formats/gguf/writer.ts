/**
 * GGUF v3 writer: header, typed metadata, tensor infos, then the tensors in info order, each at an offset that is a
 * multiple of the alignment and padded to it — the exact layout llama.cpp's loader requires (it checks that every
 * offset equals the running padded total). The file is streamed tensor by tensor into a temp file and renamed.
 */
import { KolmError } from '../../util/errors.js';
import { encodeF16, f32Bytes } from '../half.js';
import { CHUNK_BYTES, writeStreamAtomic, type Sink } from '../fileio.js';
import { QK8_0, Q8_0_BLOCK_BYTES, quantizeQ8_0 } from './quant.js';
import {
  BIGINT_RANGES,
  GGML_QUANTIZATION_VERSION,
  GGML_TYPES_BY_NAME,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAX_DIMS,
  GGUF_MAX_KEY_BYTES,
  GGUF_MAX_TENSOR_NAME_BYTES,
  GGUF_VALUE_TYPES,
  GGUF_VERSION,
  INT_RANGES,
  alignUp,
  tensorBytes,
  type GgufScalarType,
  type GgufValue,
  type GgufWriteType,
} from './types.js';

export interface GgufWriteTensor {
  name: string;
  /** ggml order: innermost (contiguous) dimension first, i.e. an HF `[out, in]` weight is `[in, out]`. */
  shape: number[];
  type: GgufWriteType;
  /** Float values, encoded (and for Q8_0 quantized) as the file is written… */
  data?: Float32Array;
  /** …or the tensor's bytes already in `type`'s encoding (required for Q4_0). */
  encoded?: Uint8Array;
}

export interface GgufWriteInput {
  metadata: Iterable<[string, GgufValue]>;
  tensors: GgufWriteTensor[];
}

/** Growable little-endian byte buffer for the header (metadata can run to megabytes: a tokenizer vocabulary). */
class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number): void { this.reserve(1); this.view.setUint8(this.length, v); this.length += 1; }
  i8(v: number): void { this.reserve(1); this.view.setInt8(this.length, v); this.length += 1; }
  u16(v: number): void { this.reserve(2); this.view.setUint16(this.length, v, true); this.length += 2; }
  i16(v: number): void { this.reserve(2); this.view.setInt16(this.length, v, true); this.length += 2; }
  u32(v: number): void { this.reserve(4); this.view.setUint32(this.length, v, true); this.length += 4; }
  i32(v: number): void { this.reserve(4); this.view.setInt32(this.length, v, true); this.length += 4; }
  f32(v: number): void { this.reserve(4); this.view.setFloat32(this.length, v, true); this.length += 4; }
  f64(v: number): void { this.reserve(8); this.view.setFloat64(this.length, v, true); this.length += 8; }
  u64(v: bigint | number): void { this.reserve(8); this.view.setBigUint64(this.length, BigInt(v), true); this.length += 8; }
  i64(v: bigint): void { this.reserve(8); this.view.setBigInt64(this.length, v, true); this.length += 8; }
  bytes(b: Uint8Array): void { this.reserve(b.length); this.buf.set(b, this.length); this.length += b.length; }
  string(s: string): void {
    const b = utf8.encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
  result(): Uint8Array { return this.buf.subarray(0, this.length); }
}

const utf8 = new TextEncoder();

function checkScalar(type: GgufScalarType, v: unknown, at: string): void {
  const bad = (what: string) => new KolmError(`${at}: ${what}, got ${typeof v === 'bigint' ? `${v}n` : JSON.stringify(v)}`);
  if (type === 'string') {
    if (typeof v !== 'string') throw bad('expected a string');
  } else if (type === 'bool') {
    if (typeof v !== 'boolean') throw bad('expected a boolean');
  } else if (type === 'uint64' || type === 'int64') {
    const [lo, hi] = BIGINT_RANGES[type];
    if (typeof v !== 'bigint' || v < lo || v > hi) throw bad(`expected a bigint in the ${type} range`);
  } else if (type === 'float32' || type === 'float64') {
    if (typeof v !== 'number') throw bad('expected a number');
  } else {
    const [lo, hi] = INT_RANGES[type]!;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw bad(`expected an integer in the ${type} range`);
  }
}

function writeScalar(w: ByteWriter, type: GgufScalarType, v: unknown): void {
  switch (type) {
    case 'uint8': return w.u8(v as number);
    case 'int8': return w.i8(v as number);
    case 'uint16': return w.u16(v as number);
    case 'int16': return w.i16(v as number);
    case 'uint32': return w.u32(v as number);
    case 'int32': return w.i32(v as number);
    case 'float32': return w.f32(v as number);
    case 'float64': return w.f64(v as number);
    case 'uint64': return w.u64(v as bigint);
    case 'int64': return w.i64(v as bigint);
    case 'bool': return w.u8(v ? 1 : 0);
    case 'string': return w.string(v as string);
  }
}

const typeId = (t: string): number => (GGUF_VALUE_TYPES as readonly string[]).indexOf(t);

function writeValue(w: ByteWriter, key: string, v: GgufValue): void {
  const at = `GGUF metadata "${key}"`;
  const id = typeId(v?.type);
  if (id < 0) throw new KolmError(`${at}: unknown value type ${JSON.stringify(v?.type)}`);
  w.u32(id);
  if (v.type !== 'array') {
    checkScalar(v.type, v.value, at);
    return writeScalar(w, v.type, v.value);
  }
  const itemId = typeId(v.itemType);
  if (itemId < 0 || v.itemType === ('array' as string)) {
    throw new KolmError(`${at}: array item type must be a scalar type, got ${JSON.stringify(v.itemType)}`);
  }
  if (!Array.isArray(v.value)) throw new KolmError(`${at}: array value must be an array`);
  w.u32(itemId);
  w.u64(v.value.length);
  v.value.forEach((item, i) => {
    checkScalar(v.itemType, item, `${at}[${i}]`);
    writeScalar(w, v.itemType, item);
  });
}

interface Planned extends GgufWriteTensor {
  offset: number;
  bytes: number;
}

function planTensors(tensors: GgufWriteTensor[], alignment: number): Planned[] {
  const seen = new Set<string>();
  let offset = 0;
  return tensors.map((t) => {
    const at = `GGUF tensor "${t.name}"`;
    const nameBytes = utf8.encode(t.name).length;
    if (nameBytes === 0 || nameBytes > GGUF_MAX_TENSOR_NAME_BYTES) {
      throw new KolmError(`${at}: name must be 1–${GGUF_MAX_TENSOR_NAME_BYTES} bytes (llama.cpp's limit), has ${nameBytes}`);
    }
    if (seen.has(t.name)) throw new KolmError(`${at}: duplicate tensor name`);
    seen.add(t.name);
    const type = GGML_TYPES_BY_NAME.get(t.type);
    if (!type || !['F32', 'F16', 'Q8_0', 'Q4_0'].includes(t.type)) throw new KolmError(`${at}: cannot write type ${t.type}`);
    if (t.shape.length < 1 || t.shape.length > GGUF_MAX_DIMS) {
      throw new KolmError(`${at}: shape ${JSON.stringify(t.shape)} must have 1–${GGUF_MAX_DIMS} dimensions`);
    }
    let numel = 1;
    for (const d of t.shape) {
      if (!Number.isSafeInteger(d) || d < 0) throw new KolmError(`${at}: bad shape ${JSON.stringify(t.shape)}`);
      numel *= d;
    }
    if (numel % type.blockElems !== 0 || t.shape[0]! % type.blockElems !== 0) {
      throw new KolmError(`${at}: ${t.type} needs the innermost dimension (${t.shape[0]}) to be a multiple of ${type.blockElems}`);
    }
    if (t.encoded !== undefined) {
      if (t.data !== undefined) throw new KolmError(`${at}: give either values or encoded bytes, not both`);
      if (t.encoded.length !== tensorBytes(type, numel)) throw new KolmError(`${at}: ${t.type} ${JSON.stringify(t.shape)} needs ${tensorBytes(type, numel)} bytes, has ${t.encoded.length}`);
      const bytes = t.encoded.length;
      const planned = { ...t, offset, bytes };
      offset = alignUp(offset + bytes, alignment);
      return planned;
    }
    if (t.type === 'Q4_0') throw new KolmError(`${at}: Q4_0 tensors are written from encoded bytes`);
    if (!(t.data instanceof Float32Array) || t.data.length !== numel) {
      throw new KolmError(`${at}: shape ${JSON.stringify(t.shape)} needs ${numel} values, data has ${t.data?.length}`);
    }
    if (t.type === 'Q8_0') {
      const bad = t.data.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) throw new KolmError(`${at}: cannot quantize non-finite value ${t.data[bad]} at index ${bad}`);
    }
    const bytes = tensorBytes(type, numel);
    const planned = { ...t, offset, bytes };
    offset = alignUp(offset + bytes, alignment);
    return planned;
  });
}

/** The alignment a file will use: general.alignment if given (a power of two ≥ 8, as a uint32), else 32. */
function alignmentOf(metadata: Array<[string, GgufValue]>): number {
  const entry = metadata.find(([k]) => k === 'general.alignment');
  if (!entry) return GGUF_DEFAULT_ALIGNMENT;
  const v = entry[1];
  if (v.type !== 'uint32' || v.value < 8 || (v.value & (v.value - 1)) !== 0) {
    throw new KolmError(`GGUF metadata "general.alignment" must be a uint32 power of two ≥ 8, got ${JSON.stringify(v)}`);
  }
  return v.value;
}

/** Write a GGUF v3 file (F32, F16 or Q8_0 tensors); adds general.quantization_version when a tensor is quantized. */
export async function writeGguf(path: string, input: GgufWriteInput): Promise<void> {
  const metadata = [...input.metadata];
  const keys = new Set<string>();
  for (const [key] of metadata) {
    const n = typeof key === 'string' ? utf8.encode(key).length : 0;
    if (n === 0 || n > GGUF_MAX_KEY_BYTES) throw new KolmError(`GGUF metadata key ${JSON.stringify(key)} must be 1–65535 bytes`);
    if (keys.has(key)) throw new KolmError(`GGUF metadata key "${key}" appears twice`);
    keys.add(key);
  }
  if (input.tensors.some((t) => t.type === 'Q8_0' || t.type === 'Q4_0') && !keys.has('general.quantization_version')) {
    metadata.push(['general.quantization_version', { type: 'uint32', value: GGML_QUANTIZATION_VERSION }]);
  }
  const alignment = alignmentOf(metadata);
  const tensors = planTensors(input.tensors, alignment);

  const w = new ByteWriter();
  w.bytes(utf8.encode('GGUF'));
  w.u32(GGUF_VERSION);
  w.u64(tensors.length);
  w.u64(metadata.length);
  for (const [key, value] of metadata) {
    w.string(key);
    writeValue(w, key, value);
  }
  for (const t of tensors) {
    w.string(t.name);
    w.u32(t.shape.length);
    for (const d of t.shape) w.u64(d);
    w.u32(GGML_TYPES_BY_NAME.get(t.type)!.id);
    w.u64(t.offset);
  }
  const header = w.result();

  await writeStreamAtomic(path, async (sink) => {
    await sink.write(header);
    await sink.pad(alignment);
    const dataStart = sink.offset;
    for (const t of tensors) {
      if (sink.offset !== dataStart + t.offset) throw new Error(`GGUF writer: layout drift at "${t.name}"`); // a bug, not input
      await writeTensorData(sink, t);
      await sink.pad(alignment);
    }
  });
}

/** Encode in bounded chunks so quantizing a multi-GB tensor never needs a second full-size buffer. */
async function writeTensorData(sink: Sink, t: Planned): Promise<void> {
  if (t.encoded) return sink.write(t.encoded);
  const data = t.data!;
  if (t.type === 'F32') return sink.write(f32Bytes(data));
  // Elements per chunk: a multiple of the Q8_0 block so blocks never straddle chunks.
  const perChunk = Math.floor(CHUNK_BYTES / 2 / QK8_0) * QK8_0;
  for (let i = 0; i < data.length; i += perChunk) {
    const part = data.subarray(i, Math.min(data.length, i + perChunk));
    if (t.type === 'F16') {
      const out = new Uint8Array(part.length * 2);
      encodeF16(part, out);
      await sink.write(out);
    } else {
      const out = new Uint8Array((part.length / QK8_0) * Q8_0_BLOCK_BYTES);
      quantizeQ8_0(part, out);
      await sink.write(out);
    }
  }
}
