/**
 * safetensors (https://github.com/huggingface/safetensors): 8-byte little-endian header length N, N bytes of JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}`, then the data section, which the
 * tensors' byte ranges must tile exactly. The header is validated in full — against the real file size — before any
 * tensor memory is allocated, so a hostile or truncated file costs at most its (bounded) header.
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { KolmError } from '../util/errors.js';
import { decodeBF16, decodeF16, decodeF32, encodeBF16, encodeF16, f32Bytes } from './half.js';
import { CHUNK_BYTES, allocFloat32, readDecoded, readExact, writeStreamAtomic, type Sink } from './fileio.js';

/** Dtypes kolm decodes (always to float32 in memory). */
export type StDType = 'F32' | 'F16' | 'BF16';

export interface StTensor {
  shape: number[];
  data: Float32Array;
  /** Stored type when writing, overriding the file's (e.g. binary16 scales kept exact in a BF16 folder). */
  storeAs?: StDType;
}

/** Integer dtypes kept as their stored bytes (packed quantized weights, their shapes). */
export type StRawDType = 'I32' | 'I64' | 'U8' | 'I8';

/** A tensor kept as its little-endian bytes, read and written without conversion. */
export interface StRawTensor {
  dtype: StRawDType;
  shape: number[];
  bytes: Uint8Array;
}

const isRaw = (t: StTensor | StRawTensor): t is StRawTensor => 'bytes' in t;

/** Byte size of every fixed-width dtype of the format: other dtypes may appear in a valid file, they just aren't decoded. */
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, F8_E8M0: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
};

export interface StHeaderEntry {
  dtype: string;
  shape: number[];
  /** Byte range relative to the start of the data section. */
  dataOffsets: [number, number];
}

export interface StHeader {
  tensors: Record<string, StHeaderEntry>;
  metadata: Record<string, string>;
  /** Absolute file offset of the data section (8 + header length). */
  dataStart: number;
}

/** Largest header accepted: real headers are kilobytes; this stops a lying length from allocating gigabytes. */
export const MAX_HEADER_BYTES = 100_000_000;

const DECODERS: Record<StDType, (bytes: Uint8Array, out: Float32Array) => void> = {
  F32: decodeF32,
  F16: decodeF16,
  BF16: decodeBF16,
};

/** Set an own enumerable property even for names like `__proto__`, which plain assignment would treat specially. */
function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Validate a header against the file it came from. `json` is the header bytes; `dataBytes` the size of everything
 * after the header. Every rule of the format is checked, each failure naming the tensor and field.
 */
export function parseSafetensorsHeader(json: Uint8Array, dataBytes: number, file: string): Omit<StHeader, 'dataStart'> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
  } catch {
    throw new KolmError(`${file}: safetensors header is not valid UTF-8`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new KolmError(`${file}: safetensors header is not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(raw)) throw new KolmError(`${file}: safetensors header must be a JSON object`);

  const metadata: Record<string, string> = {};
  const tensors: Record<string, StHeaderEntry> = {};
  for (const name of Object.keys(raw)) {
    const value = raw[name];
    if (name === '__metadata__') {
      if (!isObject(value)) throw new KolmError(`${file}: __metadata__ must be an object of strings`);
      for (const k of Object.keys(value)) {
        if (typeof value[k] !== 'string') {
          throw new KolmError(`${file}: __metadata__["${k}"] must be a string, got ${JSON.stringify(value[k])}`);
        }
        setOwn(metadata, k, value[k] as string);
      }
      continue;
    }
    setOwn(tensors, name, parseEntry(name, value, dataBytes, file));
  }
  checkTiling(tensors, dataBytes, file);
  return { tensors, metadata };
}

function parseEntry(name: string, value: unknown, dataBytes: number, file: string): StHeaderEntry {
  const at = `${file}: tensor "${name}"`;
  if (!isObject(value)) throw new KolmError(`${at}: entry must be an object, got ${JSON.stringify(value)}`);
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
    throw new KolmError(`${at}: unknown dtype ${JSON.stringify(dtype)}`);
  }
  if (!Array.isArray(shape)) throw new KolmError(`${at}: shape must be an array, got ${JSON.stringify(shape)}`);
  let numel = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || (d as number) < 0) {
      throw new KolmError(`${at}: shape ${JSON.stringify(shape)} has a dimension that is not a non-negative integer`);
    }
    numel *= d as number;
  }
  // A product beyond 2^53 is inexact; such a tensor could not fit in any data section anyway.
  if (!Number.isSafeInteger(numel)) throw new KolmError(`${at}: shape ${JSON.stringify(shape)} is absurdly large`);
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)
  ) {
    throw new KolmError(`${at}: data_offsets must be [begin, end] non-negative integers, got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw new KolmError(`${at}: data_offsets [${begin}, ${end}] end before begin`);
  if (end > dataBytes) {
    throw new KolmError(`${at}: data_offsets [${begin}, ${end}] beyond the data section (${dataBytes} bytes)`);
  }
  const bytes = numel * DTYPE_BYTES[dtype]!;
  if (end - begin !== bytes) {
    throw new KolmError(
      `${at}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes but shape ${JSON.stringify(shape)} of ${dtype} needs ${bytes}`,
    );
  }
  return { dtype, shape: shape as number[], dataOffsets: [begin, end] };
}

/** The byte ranges, sorted, must cover the data section exactly: no overlap (aliasing), no gap (hidden bytes). */
function checkTiling(tensors: Record<string, StHeaderEntry>, dataBytes: number, file: string): void {
  const sorted = Object.entries(tensors).sort(
    ([, a], [, b]) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1],
  );
  let cursor = 0;
  let prev = '';
  for (const [name, { dataOffsets: [begin, end] }] of sorted) {
    if (begin < cursor) {
      throw new KolmError(`${file}: tensor "${name}" data_offsets [${begin}, ${end}] overlap tensor "${prev}" (ends at ${cursor})`);
    }
    if (begin > cursor) {
      throw new KolmError(`${file}: tensor "${name}" data_offsets [${begin}, ${end}] leave a gap after byte ${cursor}`);
    }
    cursor = end;
    prev = name;
  }
  if (cursor !== dataBytes) {
    throw new KolmError(`${file}: data section has ${dataBytes} bytes but the tensors cover only ${cursor}`);
  }
}

async function readHeaderFrom(fd: FileHandle, file: string): Promise<StHeader> {
  const size = (await fd.stat()).size;
  if (size < 8) throw new KolmError(`${file}: too short for a safetensors file (${size} bytes)`);
  const lenBytes = new Uint8Array(8);
  await readExact(fd, lenBytes, 0, file);
  const len = new DataView(lenBytes.buffer).getBigUint64(0, true);
  if (len > BigInt(size - 8)) {
    throw new KolmError(`${file}: header length ${len} is beyond the file (${size} bytes)`);
  }
  if (len > BigInt(MAX_HEADER_BYTES)) {
    throw new KolmError(`${file}: header length ${len} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  const n = Number(len);
  const json = new Uint8Array(n);
  await readExact(fd, json, 8, file);
  return { ...parseSafetensorsHeader(json, size - 8 - n, file), dataStart: 8 + n };
}

/** Read and validate only the header (names, dtypes, shapes, offsets, metadata). */
export async function readSafetensorsHeader(path: string): Promise<StHeader> {
  const fd = await openOrThrow(path);
  try {
    return await readHeaderFrom(fd, path);
  } finally {
    await fd.close();
  }
}

async function openOrThrow(path: string): Promise<FileHandle> {
  try {
    return await fsp.open(path, 'r');
  } catch (err) {
    throw new KolmError(`${path}: cannot open (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/**
 * Read tensors (all, or only `names`) decoded to float32. Each tensor is read with positioned reads at its own
 * offset, chunk by chunk, so unrequested tensors cost nothing and peak memory is the outputs plus one chunk.
 */
export async function readSafetensors(
  path: string,
  opts: { names?: string[] } = {},
): Promise<{ tensors: Record<string, StTensor>; metadata: Record<string, string> }> {
  const fd = await openOrThrow(path);
  try {
    const header = await readHeaderFrom(fd, path);
    const names = opts.names ?? Object.keys(header.tensors);
    for (const name of names) {
      if (!Object.hasOwn(header.tensors, name)) throw new KolmError(`${path}: no tensor named "${name}"`);
      const { dtype } = header.tensors[name]!;
      if (!(dtype in DECODERS)) {
        throw new KolmError(`${path}: tensor "${name}" has dtype ${dtype}; only F32, F16 and BF16 can be read as floats`);
      }
    }
    const tensors: Record<string, StTensor> = {};
    for (const name of names) {
      const { dtype, shape, dataOffsets } = header.tensors[name]!;
      const size = DTYPE_BYTES[dtype]!;
      const data = allocFloat32((dataOffsets[1] - dataOffsets[0]) / size, `${path}: tensor "${name}"`);
      await readDecoded(fd, path, header.dataStart + dataOffsets[0], data, size, DECODERS[dtype as StDType]);
      setOwn(tensors, name, { shape: [...shape], data });
    }
    return { tensors, metadata: header.metadata };
  } finally {
    await fd.close();
  }
}

/** Read integer tensors as their stored bytes; each must have one of `dtypes` (named in the error otherwise). */
export async function readSafetensorsRaw(path: string, names: readonly string[], dtypes: readonly StRawDType[]): Promise<Record<string, StRawTensor>> {
  const fd = await openOrThrow(path);
  try {
    const header = await readHeaderFrom(fd, path);
    const out: Record<string, StRawTensor> = {};
    for (const name of names) {
      if (!Object.hasOwn(header.tensors, name)) throw new KolmError(`${path}: no tensor named "${name}"`);
      const { dtype, shape, dataOffsets } = header.tensors[name]!;
      if (!(dtypes as readonly string[]).includes(dtype)) throw new KolmError(`${path}: tensor "${name}" has dtype ${dtype}; expected ${dtypes.join(' or ')}`);
      // The header was validated against the file size, so this allocation is bounded by the file.
      const bytes = new Uint8Array(dataOffsets[1] - dataOffsets[0]);
      await readExact(fd, bytes, header.dataStart + dataOffsets[0], path);
      setOwn(out, name, { dtype: dtype as StRawDType, shape: [...shape], bytes });
    }
    return out;
  } finally {
    await fd.close();
  }
}

function numelOf(name: string, shape: number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new KolmError(`tensor "${name}": bad shape ${JSON.stringify(shape)}`);
    n *= d;
  }
  return n;
}

/**
 * Write tensors (sorted by name) as F32, F16 or BF16. The header is padded with spaces so the data starts 8-byte
 * aligned, as the reference implementation does; the file appears atomically (temp file + rename) and is streamed tensor by
 * tensor, so writing never holds a second copy of the model.
 */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, StTensor | StRawTensor>,
  opts: { dtype?: StDType; metadata?: Record<string, string> } = {},
): Promise<void> {
  const dtype = opts.dtype ?? 'F32';
  if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') throw new KolmError(`safetensors: cannot write dtype ${String(dtype)}`);
  const names = Object.keys(tensors).sort();
  const parts: string[] = [];
  if (opts.metadata && Object.keys(opts.metadata).length > 0) {
    for (const [k, v] of Object.entries(opts.metadata)) {
      if (typeof v !== 'string') throw new KolmError(`safetensors: metadata "${k}" must be a string`);
    }
    parts.push(`"__metadata__":${JSON.stringify(opts.metadata)}`);
  }
  let offset = 0;
  for (const name of names) {
    if (name === '__metadata__') throw new KolmError('safetensors: "__metadata__" is reserved and cannot name a tensor');
    const t = tensors[name]!;
    const numel = numelOf(name, t.shape);
    let end: number;
    if (isRaw(t)) {
      if (t.bytes.length !== numel * DTYPE_BYTES[t.dtype]!) throw new KolmError(`tensor "${name}": shape ${JSON.stringify(t.shape)} of ${t.dtype} needs ${numel * DTYPE_BYTES[t.dtype]!} bytes, has ${t.bytes.length}`);
      end = offset + t.bytes.length;
    } else {
      if (!(t.data instanceof Float32Array) || t.data.length !== numel) {
        throw new KolmError(`tensor "${name}": shape ${JSON.stringify(t.shape)} needs ${numel} values, data has ${t.data?.length}`);
      }
      end = offset + numel * DTYPE_BYTES[t.storeAs ?? dtype]!;
    }
    // Keys are emitted by hand: JSON.stringify of an object would move integer-like names ("0") to the front.
    parts.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype: isRaw(t) ? t.dtype : (t.storeAs ?? dtype), shape: t.shape, data_offsets: [offset, end] })}`);
    offset = end;
  }
  let json = `{${parts.join(',')}}`;
  const jsonBytes = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - (jsonBytes % 8)) % 8);
  const header = new TextEncoder().encode(json);
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(header.length), true);

  await writeStreamAtomic(path, async (sink) => {
    await sink.write(prefix);
    await sink.write(header);
    for (const name of names) {
      const t = tensors[name]!;
      await (isRaw(t) ? sink.write(t.bytes) : writeData(sink, t.data, t.storeAs ?? dtype));
    }
  });
}

async function writeData(sink: Sink, data: Float32Array, dtype: StDType): Promise<void> {
  if (dtype === 'F32') return sink.write(f32Bytes(data));
  const perChunk = CHUNK_BYTES / 2;
  const scratch = new Uint8Array(Math.min(data.length, perChunk) * 2);
  for (let i = 0; i < data.length; i += perChunk) {
    const part = data.subarray(i, Math.min(data.length, i + perChunk));
    const out = scratch.subarray(0, part.length * 2);
    (dtype === 'BF16' ? encodeBF16 : encodeF16)(part, out);
    await sink.write(out);
  }
}
