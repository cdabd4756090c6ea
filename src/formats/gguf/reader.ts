/**
 * GGUF v3 reader. Every count, length and offset is checked against the real file size before it is used, so a file
 * with lying counts fails with a KolmError naming the field instead of allocating gigabytes; tensor data is read
 * on demand with positioned reads and dequantized (F32, F16, BF16, Q8_0) to float32.
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { KolmError } from '../../util/errors.js';
import { decodeBF16, decodeF16, decodeF32 } from '../half.js';
import { allocFloat32, readDecoded, readExact } from '../fileio.js';
import { QK4_0, QK8_0, Q4_0_BLOCK_BYTES, Q8_0_BLOCK_BYTES, dequantizeQ4_0, dequantizeQ8_0 } from './quant.js';
import {
  GGML_TYPES_BY_ID,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAX_DIMS,
  GGUF_MAX_TENSOR_NAME_BYTES,
  GGUF_VALUE_TYPES,
  GGUF_VERSION,
  SCALAR_BYTES,
  alignUp,
  tensorBytes,
  type GgufScalarType,
  type GgufValue,
  type GgufValueType,
} from './types.js';

export interface GgufTensorInfo {
  name: string;
  /** ggml order: innermost dimension first. */
  shape: number[];
  /** ggml type name (F32, F16, Q8_0, Q4_K, …). */
  type: string;
  numel: number;
  /** Absolute file offset of the tensor's data. */
  offset: number;
  byteLength: number;
}

export interface GgufFile {
  path: string;
  version: number;
  alignment: number;
  /** In file order. */
  metadata: Map<string, GgufValue>;
  /** In file order. */
  tensors: GgufTensorInfo[];
  /** Absolute file offset of the tensor data section. */
  dataStart: number;
  /** Read one tensor, dequantized to float32 (F32, F16, BF16, Q8_0 and Q4_0 tensors). */
  readTensor(name: string): Promise<Float32Array>;
  /** Read one tensor's stored bytes, in its ggml encoding (quantized blocks stay quantized). */
  readTensorBytes(name: string): Promise<Uint8Array>;
}

/** Largest header (metadata + tensor infos) accepted; real ones with a 256k-token vocabulary are ~10 MB. */
export const GGUF_MAX_HEADER_BYTES = 256 << 20;

/** Least bytes any one metadata pair / tensor info can occupy: the bound that catches lying counts up front. */
const MIN_KV_BYTES = 8 + 4 + 1;
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8;

/** Thrown inside parsing when the header continues past the bytes read so far; the caller reads more and retries. */
class NeedMore {
  constructor(readonly bytes: number) {}
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

class Cursor {
  pos = 0;
  private readonly view: DataView;

  constructor(
    private readonly buf: Uint8Array,
    private readonly fileSize: number,
    private readonly limit: number,
    private readonly file: string,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  fail(msg: string): never {
    throw new KolmError(`${this.file}: ${msg}`);
  }

  /** Bytes left in the file after the cursor: the bound for every length read from the file. */
  get remaining(): number {
    return this.fileSize - this.pos;
  }

  private need(n: number, field: string): void {
    const end = this.pos + n;
    if (end <= this.buf.length) return;
    if (end > this.fileSize) this.fail(`${field} at byte ${this.pos} runs past the end of the file (${this.fileSize} bytes)`);
    if (end > this.limit) this.fail(`header is larger than the ${this.limit}-byte limit (at ${field})`);
    throw new NeedMore(end);
  }

  u8(field: string): number { this.need(1, field); return this.view.getUint8(this.pos++); }
  u32(field: string): number { this.need(4, field); const v = this.view.getUint32(this.pos, true); this.pos += 4; return v; }
  u64(field: string): bigint { this.need(8, field); const v = this.view.getBigUint64(this.pos, true); this.pos += 8; return v; }

  /** A u64 count or size that must fit a JS number and the rest of the file (`each` bytes per unit at least). */
  size(field: string, each: number): number {
    const v = this.u64(field);
    if (v * BigInt(Math.max(each, 1)) > BigInt(this.remaining)) {
      this.fail(`${field} ${v} cannot fit in the ${this.remaining} bytes left in the file`);
    }
    return Number(v);
  }

  string(field: string): string {
    const n = this.size(`${field} length`, 1);
    this.need(n, field);
    const bytes = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    try {
      return utf8.decode(bytes);
    } catch {
      return this.fail(`${field} is not valid UTF-8`);
    }
  }

  scalar(type: GgufScalarType, field: string): number | bigint | boolean | string {
    if (type === 'string') return this.string(field);
    const n = SCALAR_BYTES[type];
    this.need(n, field);
    const at = this.pos;
    this.pos += n;
    const v = this.view;
    switch (type) {
      case 'uint8': return v.getUint8(at);
      case 'int8': return v.getInt8(at);
      case 'uint16': return v.getUint16(at, true);
      case 'int16': return v.getInt16(at, true);
      case 'uint32': return v.getUint32(at, true);
      case 'int32': return v.getInt32(at, true);
      case 'float32': return v.getFloat32(at, true);
      case 'float64': return v.getFloat64(at, true);
      case 'uint64': return v.getBigUint64(at, true);
      case 'int64': return v.getBigInt64(at, true);
      case 'bool': {
        const b = v.getUint8(at);
        if (b > 1) this.fail(`${field} is a bool with byte value ${b} (must be 0 or 1)`);
        return b === 1;
      }
    }
  }

  valueType(field: string): GgufValueType {
    const id = this.u32(field);
    const t = GGUF_VALUE_TYPES[id];
    if (t === undefined) this.fail(`${field} ${id} is not a GGUF value type`);
    return t;
  }
}

function parseValue(c: Cursor, key: string): GgufValue {
  const at = `metadata "${key}"`;
  const type = c.valueType(`${at} value type`);
  if (type !== 'array') return { type, value: c.scalar(type, at) } as GgufValue;
  const itemType = c.valueType(`${at} array item type`);
  // llama.cpp's loader rejects nested arrays too; refusing them also bounds the parser's recursion.
  if (itemType === 'array') c.fail(`${at} is an array of arrays, which is not supported`);
  const minItem = itemType === 'string' ? 8 : SCALAR_BYTES[itemType];
  const len = c.size(`${at} array length`, minItem);
  const value: unknown[] = [];
  for (let i = 0; i < len; i++) value.push(c.scalar(itemType, `${at}[${i}]`));
  return { type, itemType, value } as GgufValue;
}

interface Header {
  version: number;
  alignment: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  dataStart: number;
}

function parseHeader(c: Cursor, fileSize: number): Header {
  const magic = Array.from({ length: 4 }, () => c.u8('magic'));
  if (String.fromCharCode(...magic) !== 'GGUF') {
    c.fail(`not a GGUF file (magic ${magic.map((b) => b.toString(16).padStart(2, '0')).join(' ')})`);
  }
  const version = c.u32('version');
  if (version !== GGUF_VERSION) {
    const swapped = ((version & 0xff) << 24) | ((version & 0xff00) << 8) | ((version >>> 8) & 0xff00) | (version >>> 24);
    if (swapped === GGUF_VERSION) c.fail('big-endian GGUF files are not supported');
    c.fail(`GGUF version ${version} is not supported (only version ${GGUF_VERSION})`);
  }
  const tensorCount = c.u64('tensor_count');
  const kvCount = c.u64('metadata_kv_count');
  if (tensorCount * BigInt(MIN_TENSOR_INFO_BYTES) + kvCount * BigInt(MIN_KV_BYTES) > BigInt(c.remaining)) {
    c.fail(`tensor_count ${tensorCount} and metadata_kv_count ${kvCount} cannot fit in a ${fileSize}-byte file`);
  }

  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < Number(kvCount); i++) {
    const key = c.string(`metadata key #${i}`);
    if (key.length === 0) c.fail(`metadata key #${i} is empty`);
    if (metadata.has(key)) c.fail(`metadata key "${key}" appears twice`);
    metadata.set(key, parseValue(c, key));
  }

  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const a = metadata.get('general.alignment');
  if (a !== undefined) {
    if (a.type !== 'uint32' || a.value === 0 || (a.value & (a.value - 1)) !== 0) {
      c.fail(`general.alignment must be a uint32 power of two, got ${a.type} ${JSON.stringify(a.value)}`);
    }
    alignment = a.value;
  }

  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < Number(tensorCount); i++) {
    const name = c.string(`tensor #${i} name`);
    const at = `tensor "${name}"`;
    if (Buffer.byteLength(name) > GGUF_MAX_TENSOR_NAME_BYTES) c.fail(`${at} name is longer than ${GGUF_MAX_TENSOR_NAME_BYTES} bytes`);
    if (names.has(name)) c.fail(`${at} appears twice`);
    names.add(name);
    const nDims = c.u32(`${at} n_dimensions`);
    if (nDims > GGUF_MAX_DIMS) c.fail(`${at} n_dimensions ${nDims} exceeds ${GGUF_MAX_DIMS}`);
    const shape: number[] = [];
    let numel = 1;
    for (let d = 0; d < nDims; d++) {
      const dim = c.u64(`${at} dimension ${d}`);
      if (dim > BigInt(Number.MAX_SAFE_INTEGER)) c.fail(`${at} dimension ${d} is ${dim}, absurdly large`);
      shape.push(Number(dim));
      numel *= Number(dim);
      if (!Number.isSafeInteger(numel)) c.fail(`${at} shape [${shape}…] has absurdly many elements`);
    }
    const typeId = c.u32(`${at} type`);
    const type = GGML_TYPES_BY_ID.get(typeId);
    if (!type) c.fail(`${at} has unknown ggml type ${typeId}`);
    if ((shape[0] ?? 1) % type.blockElems !== 0) {
      c.fail(`${at} of type ${type.name} needs dimension 0 (${shape[0] ?? 1}) to be a multiple of ${type.blockElems}`);
    }
    const offset = c.u64(`${at} offset`);
    if (offset % BigInt(alignment) !== 0n) c.fail(`${at} offset ${offset} is not a multiple of the alignment ${alignment}`);
    if (offset > BigInt(fileSize)) c.fail(`${at} offset ${offset} is beyond the end of the file (${fileSize} bytes)`);
    tensors.push({ name, shape, type: type.name, numel, offset: Number(offset), byteLength: tensorBytes(type, numel) });
  }

  const dataStart = alignUp(c.pos, alignment);
  for (const t of tensors) {
    t.offset += dataStart;
    if (t.offset + t.byteLength > fileSize) {
      c.fail(`tensor "${t.name}" data [${t.offset}, ${t.offset + t.byteLength}) runs past the end of the file (${fileSize} bytes)`);
    }
  }
  const sorted = [...tensors].sort((x, y) => x.offset - y.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    if (sorted[i]!.offset < prev.offset + prev.byteLength) c.fail(`tensor "${sorted[i]!.name}" data overlaps tensor "${prev.name}"`);
  }
  return { version, alignment, metadata, tensors, dataStart };
}

async function readHeader(fd: FileHandle, path: string, limit: number): Promise<Header> {
  const fileSize = (await fd.stat()).size;
  let size = Math.min(fileSize, limit, 1 << 20);
  for (;;) {
    const buf = new Uint8Array(size);
    await readExact(fd, buf, 0, path);
    try {
      return parseHeader(new Cursor(buf, fileSize, limit, path), fileSize);
    } catch (err) {
      if (!(err instanceof NeedMore)) throw err;
      // The header continues: re-read a larger prefix (at least doubling, so the total work stays linear).
      size = Math.min(fileSize, limit, Math.max(err.bytes, size * 2));
    }
  }
}

const DECODE: Record<string, { blockBytes: number; blockElems: number; decode: (b: Uint8Array, o: Float32Array) => void }> = {
  F32: { blockBytes: 4, blockElems: 1, decode: decodeF32 },
  F16: { blockBytes: 2, blockElems: 1, decode: decodeF16 },
  BF16: { blockBytes: 2, blockElems: 1, decode: decodeBF16 },
  Q8_0: { blockBytes: Q8_0_BLOCK_BYTES, blockElems: QK8_0, decode: dequantizeQ8_0 },
  Q4_0: { blockBytes: Q4_0_BLOCK_BYTES, blockElems: QK4_0, decode: dequantizeQ4_0 },
};

async function open(path: string): Promise<FileHandle> {
  try {
    return await fsp.open(path, 'r');
  } catch (err) {
    throw new KolmError(`${path}: cannot open (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** Read and validate a GGUF file's header; tensors are read later, one at a time, with `readTensor`. */
export async function readGguf(path: string, opts: { maxHeaderBytes?: number } = {}): Promise<GgufFile> {
  const fd = await open(path);
  let header: Header;
  try {
    header = await readHeader(fd, path, opts.maxHeaderBytes ?? GGUF_MAX_HEADER_BYTES);
  } finally {
    await fd.close();
  }
  const byName = new Map(header.tensors.map((t) => [t.name, t]));
  return {
    path,
    ...header,
    async readTensor(name: string): Promise<Float32Array> {
      const info = byName.get(name);
      if (!info) throw new KolmError(`${path}: no tensor named "${name}"`);
      const codec = DECODE[info.type];
      if (!codec) throw new KolmError(`${path}: tensor "${name}" has type ${info.type}; kolm dequantizes F32, F16, BF16, Q8_0 and Q4_0`);
      const out = allocFloat32(info.numel, `${path}: tensor "${name}"`);
      const f = await open(path);
      try {
        await readDecoded(f, path, info.offset, out, codec.blockBytes, codec.decode, codec.blockElems);
      } finally {
        await f.close();
      }
      return out;
    },
    async readTensorBytes(name: string): Promise<Uint8Array> {
      const info = byName.get(name);
      if (!info) throw new KolmError(`${path}: no tensor named "${name}"`);
      // byteLength was checked against the file's size when the header was read.
      const out = new Uint8Array(info.byteLength);
      const f = await open(path);
      try {
        await readExact(f, out, info.offset, path);
      } finally {
        await f.close();
      }
      return out;
    },
  };
}
