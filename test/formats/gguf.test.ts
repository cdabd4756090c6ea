import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  dequantizeQ8_0,
  quantizeQ8_0,
  readGguf,
  writeGguf,
  type GgufValue,
  type GgufWriteTensor,
} from '../../src/formats/gguf/index.js';
import { f16BitsToF32, f32ToF16Bits } from '../../src/formats/half.js';
import { readDecoded } from '../../src/formats/fileio.js';
import { KolmError } from '../../src/util/errors.js';
import { mulberry32, mutate } from '../fixtures/formats/fuzz.js';

const dir = mkdtempSync(join(tmpdir(), 'kolm-gguf-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const file = (name: string) => join(dir, name);

/** Little-endian byte assembler, independent of the writer, for spec-built and hostile files. */
class Bytes {
  private chunks: Buffer[] = [];
  get length(): number { return this.chunks.reduce((n, c) => n + c.length, 0); }
  raw(b: Uint8Array | number[]): this { this.chunks.push(Buffer.from(b)); return this; }
  u8(v: number): this { return this.raw([v]); }
  u32(v: number): this { const b = Buffer.alloc(4); b.writeUInt32LE(v); return this.raw(b); }
  u64(v: bigint | number): this { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); return this.raw(b); }
  f32(v: number): this { const b = Buffer.alloc(4); b.writeFloatLE(v); return this.raw(b); }
  str(s: string): this { const b = Buffer.from(s, 'utf8'); return this.u64(b.length).raw(b); }
  pad(to: number): this { return this.raw(new Array((to - (this.length % to)) % to).fill(0)); }
  build(): Uint8Array { return Buffer.concat(this.chunks); }
}

const head = (tensors: number | bigint, kvs: number | bigint, version = 3) => new Bytes().raw(Buffer.from('GGUF')).u32(version).u64(tensors).u64(kvs);
/** A tensor info: name, dims (ggml order), ggml type id, offset. */
const info = (b: Bytes, name: string, dims: Array<number | bigint>, type: number, offset: number | bigint) => {
  b.str(name).u32(dims.length);
  for (const d of dims) b.u64(d);
  return b.u32(type).u64(offset);
};

async function rejects(bytes: Uint8Array, pattern: RegExp, opts?: { maxHeaderBytes?: number }): Promise<void> {
  const p = file('hostile.gguf');
  writeFileSync(p, bytes);
  await assert.rejects(readGguf(p, opts), (err: unknown) => {
    assert.ok(err instanceof KolmError, `expected KolmError, got ${String(err)}`);
    assert.match(err.message, pattern);
    assert.ok(err.message.startsWith(p), `names the file: ${err.message}`);
    return true;
  });
}

const METADATA: Array<[string, GgufValue]> = [
  ['general.architecture', { type: 'string', value: 'llama' }],
  ['general.name', { type: 'string', value: '콜름 테스트 모델' }],
  ['llama.block_count', { type: 'uint32', value: 2 }],
  ['llama.attention.layer_norm_rms_epsilon', { type: 'float32', value: Math.fround(1e-5) }],
  ['test.u8', { type: 'uint8', value: 255 }],
  ['test.i8', { type: 'int8', value: -128 }],
  ['test.u16', { type: 'uint16', value: 65535 }],
  ['test.i16', { type: 'int16', value: -32768 }],
  ['test.i32', { type: 'int32', value: -2147483648 }],
  ['test.u64', { type: 'uint64', value: 18446744073709551615n }],
  ['test.i64', { type: 'int64', value: -9223372036854775808n }],
  ['test.f64', { type: 'float64', value: Math.PI }],
  ['test.bool', { type: 'bool', value: true }],
  ['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', value: ['<s>', '안녕', 'Ġhello', ''] }],
  ['tokenizer.ggml.scores', { type: 'array', itemType: 'float32', value: [0, -1.5, 2.25, 0] }],
  ['tokenizer.ggml.token_type', { type: 'array', itemType: 'int32', value: [3, 1, 1, 1] }],
  ['test.u64s', { type: 'array', itemType: 'uint64', value: [0n, 1n << 60n] }],
  ['test.bools', { type: 'array', itemType: 'bool', value: [false, true] }],
  ['test.empty', { type: 'array', itemType: 'string', value: [] }],
];

function randomData(n: number, seed: number, scale = 3): Float32Array {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (rand() - 0.5) * 2 * scale);
}

test('write → read round trip: metadata of every type, F32 bit-exact, F16 as converted, aligned layout', async () => {
  const tensors: GgufWriteTensor[] = [
    { name: 'token_embd.weight', shape: [8, 5], type: 'F32', data: randomData(40, 1) },
    { name: 'blk.0.attn_q.weight', shape: [8, 8], type: 'F16', data: randomData(64, 2) },
    { name: 'output_norm.weight', shape: [8], type: 'F32', data: Float32Array.from([1, -0, Infinity, NaN, 1e-40, 2, 3, 4]) },
    { name: 'blk.0.ffn_down.weight', shape: [3], type: 'F16', data: Float32Array.from([65504, 6e-8, -Infinity]) },
  ];
  const p = file('rt.gguf');
  await writeGguf(p, { metadata: METADATA, tensors });
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
  const g = await readGguf(p);
  assert.equal(g.version, 3);
  assert.equal(g.alignment, 32);
  assert.deepEqual([...g.metadata], METADATA, 'metadata in order, types and values kept');
  assert.equal(g.dataStart % 32, 0);
  assert.deepEqual(g.tensors.map((t) => [t.name, t.shape, t.type]), tensors.map((t) => [t.name, t.shape, t.type]));
  let expected = g.dataStart;
  for (const t of g.tensors) {
    assert.equal(t.offset, expected, `${t.name} at the running padded offset llama.cpp expects`);
    expected += Math.ceil(t.byteLength / 32) * 32;
  }
  assert.equal(readFileSync(p).length, expected, 'the last tensor is padded too');
  const f32 = await g.readTensor('token_embd.weight');
  assert.deepEqual(new Uint8Array(f32.buffer), new Uint8Array(tensors[0]!.data!.buffer), 'F32 bit-identical');
  const special = await g.readTensor('output_norm.weight');
  assert.deepEqual(new Uint8Array(special.buffer), new Uint8Array(tensors[2]!.data!.buffer));
  const f16 = await g.readTensor('blk.0.attn_q.weight');
  tensors[1]!.data!.forEach((x, i) => assert.equal(f16[i], Math.fround(f16BitsToF32(f32ToF16Bits(x)))));
  assert.deepEqual([...(await g.readTensor('blk.0.ffn_down.weight'))], [65504, 2 ** -24, -Infinity]);
  await assert.rejects(g.readTensor('nope'), /no tensor named "nope"/);
});

test('Q8_0 quantizes like ggml quantize_row_q8_0_ref (hand-checked blocks, half away from zero)', () => {
  // Block 1: amax 127 → d = 1, q = roundf(x). Block 2: all zero → d = 0. Block 3: amax 254 → d = 2, q = roundf(x / 2).
  const b1 = [127, -127, 2.5, -2.5, 0.5, -0.5, 1.49, -1.51, ...new Array(24).fill(0)];
  const b3 = [254, 3, -3, 1, -1, 5, ...new Array(26).fill(0)];
  const x = Float32Array.from([...b1, ...new Array(32).fill(0), ...b3]);
  const out = new Uint8Array(3 * 34);
  quantizeQ8_0(x, out);
  const i8 = (v: number) => v & 0xff;
  assert.deepEqual([...out.subarray(0, 10)], [0x00, 0x3c, 127, i8(-127), 3, i8(-3), 1, i8(-1), 1, i8(-2)]);
  assert.deepEqual([...out.subarray(34, 68)], new Array(34).fill(0));
  assert.deepEqual([...out.subarray(68, 76)], [0x00, 0x40, 127, 2, i8(-2), 1, i8(-1), 3]);
  const back = new Float32Array(96);
  dequantizeQ8_0(out, back);
  assert.deepEqual([...back.subarray(0, 8)], [127, -127, 3, -3, 1, -1, 1, -2]);
  assert.deepEqual([...back.subarray(64, 70)], [254, 4, -4, 2, -2, 6]);
});

test('Q8_0 round trip through a file: error per element within half a step of the block scale', async () => {
  const shape = [64, 6];
  const data = randomData(64 * 6, 5);
  for (let i = 0; i < 32; i++) data[64 + i] = 0; // an all-zero block
  data[200] = 1000; // one block with a large outlier
  const p = file('q8.gguf');
  await writeGguf(p, { metadata: [['general.architecture', { type: 'string', value: 'llama' }]], tensors: [{ name: 'w', shape, type: 'Q8_0', data }] });
  const g = await readGguf(p);
  assert.deepEqual(g.metadata.get('general.quantization_version'), { type: 'uint32', value: 2 }, 'required for quantized files');
  assert.equal(g.tensors[0]!.byteLength, (64 * 6 / 32) * 34);
  const back = await g.readTensor('w');
  for (let b = 0; b < data.length / 32; b++) {
    const block = data.subarray(b * 32, b * 32 + 32);
    const d = Math.fround(Math.max(...block.map(Math.abs)) / 127);
    const d16 = f16BitsToF32(f32ToF16Bits(d));
    for (let j = 0; j < 32; j++) {
      const x = block[j]!, y = back[b * 32 + j]!;
      const q = Math.round(y / (d16 || 1));
      // |x − q·d16| ≤ |x − q·d| + |q|·|d − d16| ≤ d/2 + |q|·|d − d16| (the stored scale is d rounded to F16).
      const bound = d / 2 + Math.abs(q) * Math.abs(d - d16) + 1e-6 * d;
      assert.ok(Math.abs(x - y) <= bound, `block ${b}[${j}]: ${x} → ${y}, bound ${bound}`);
    }
  }
  assert.ok(back.subarray(64, 96).every((v) => v === 0));
  assert.ok(Math.abs(back[200]! - 1000) < 1000 / 127);
});

test('a GGUF assembled by hand from the spec reads correctly (custom alignment 64, F32 and F16 tensors)', async () => {
  const b = head(2, 2).str('general.architecture').u32(8).str('llama').str('general.alignment').u32(4).u32(64);
  info(b, 'a', [2, 3], 0, 0);
  info(b, 'b', [4], 1, 64);
  b.pad(64);
  for (let i = 0; i < 6; i++) b.f32(i / 4);
  b.pad(64);
  b.raw([0x00, 0x3c, 0x00, 0xc0, 0x00, 0x7c, 0x01, 0x00]); // F16: 1, -2, inf, 2^-24
  const p = file('hand.gguf');
  writeFileSync(p, b.build());
  const g = await readGguf(p);
  assert.equal(g.alignment, 64);
  assert.equal(g.dataStart % 64, 0);
  assert.deepEqual(g.tensors.map((t) => [t.name, t.shape, t.type, t.byteLength]), [['a', [2, 3], 'F32', 24], ['b', [4], 'F16', 8]]);
  assert.deepEqual([...(await g.readTensor('a'))], [0, 0.25, 0.5, 0.75, 1, 1.25]);
  assert.deepEqual([...(await g.readTensor('b'))], [1, -2, Infinity, 2 ** -24]);
});

test('the writer honours general.alignment and rejects what llama.cpp would reject', async () => {
  const p = file('w.gguf');
  const arch: [string, GgufValue] = ['general.architecture', { type: 'string', value: 'llama' }];
  await writeGguf(p, { metadata: [arch, ['general.alignment', { type: 'uint32', value: 64 }]], tensors: [
    { name: 'a', shape: [3], type: 'F32', data: new Float32Array(3) },
    { name: 'b', shape: [1], type: 'F32', data: new Float32Array(1) },
  ] });
  const g = await readGguf(p);
  assert.deepEqual(g.tensors.map((t) => (t.offset - g.dataStart) % 64), [0, 0]);
  assert.equal(g.tensors[1]!.offset - g.tensors[0]!.offset, 64);

  const t = (over: Partial<GgufWriteTensor>): GgufWriteTensor => ({ name: 'w', shape: [32], type: 'Q8_0', data: new Float32Array(32), ...over });
  const bad: Array<[Parameters<typeof writeGguf>[1], RegExp]> = [
    [{ metadata: [], tensors: [t({ shape: [16, 2] })] }, /Q8_0 needs the innermost dimension \(16\) to be a multiple of 32/],
    [{ metadata: [], tensors: [t({ data: Float32Array.from({ length: 32 }, (_, i) => (i === 5 ? NaN : 0)) })] }, /non-finite value NaN at index 5/],
    [{ metadata: [], tensors: [t({}), t({})] }, /"w": duplicate tensor name/],
    [{ metadata: [], tensors: [t({ name: 'x'.repeat(64) })] }, /name must be 1–63 bytes/],
    [{ metadata: [], tensors: [t({ shape: [32, 1, 1, 1, 1], data: new Float32Array(32) })] }, /must have 1–4 dimensions/],
    [{ metadata: [], tensors: [t({ shape: [64] })] }, /needs 64 values, data has 32/],
    [{ metadata: [], tensors: [t({ type: 'Q4_K' as 'Q8_0' })] }, /cannot write type Q4_K/],
    [{ metadata: [['a.b', { type: 'uint8', value: 256 }]], tensors: [] }, /"a.b": expected an integer in the uint8 range, got 256/],
    [{ metadata: [['a.b', { type: 'int32', value: 1.5 }]], tensors: [] }, /int32 range/],
    [{ metadata: [['a.b', { type: 'uint64', value: 5 as unknown as bigint }]], tensors: [] }, /expected a bigint/],
    [{ metadata: [['a.b', { type: 'array', itemType: 'string', value: ['x', 3 as unknown as string] }]], tensors: [] }, /"a.b"\[1\]: expected a string/],
    [{ metadata: [arch, arch], tensors: [] }, /appears twice/],
    [{ metadata: [['general.alignment', { type: 'uint32', value: 12 }]], tensors: [] }, /power of two/],
  ];
  for (const [input, pattern] of bad) await assert.rejects(writeGguf(p, input), (e: unknown) => e instanceof KolmError && pattern.test(e.message));
});

test('chunked block decoding crosses chunk boundaries correctly', async () => {
  const data = randomData(32 * 7, 9);
  const q = new Uint8Array(7 * 34);
  quantizeQ8_0(data, q);
  const p = file('chunks.bin');
  writeFileSync(p, Buffer.concat([Buffer.from([1, 2, 3]), q]));
  const whole = new Float32Array(32 * 7);
  dequantizeQ8_0(q, whole);
  const fd = await open(p, 'r');
  try {
    for (const chunkBytes of [1, 34, 70, 100, 238, 1 << 20]) {
      const out = new Float32Array(32 * 7);
      await readDecoded(fd, p, 3, out, 34, dequantizeQ8_0, 32, chunkBytes);
      assert.deepEqual(out, whole, `chunk ${chunkBytes} bytes`);
    }
  } finally {
    await fd.close();
  }
});

test('hostile GGUF files fail with a KolmError naming the field, without giant allocations', async () => {
  const ok = () => head(1, 1).str('general.architecture').u32(8).str('llama');
  const withTensor = (dims: Array<number | bigint>, type: number, offset: number | bigint, dataBytes: number) => {
    const b = ok();
    info(b, 't', dims, type, offset);
    return b.pad(32).raw(new Array(dataBytes).fill(0)).build();
  };
  await rejects(new Uint8Array(0), /magic at byte 0 runs past the end of the file \(0 bytes\)/);
  await rejects(Buffer.from('GGML\x03\x00\x00\x00'), /not a GGUF file \(magic 47 47 4d 4c\)/);
  await rejects(head(0, 0, 2).build(), /GGUF version 2 is not supported/);
  await rejects(head(0, 0, 0x03000000).build(), /big-endian GGUF files are not supported/);
  await rejects(head(0, 0).build().subarray(0, 20), /metadata_kv_count at byte 16 runs past the end/);
  await rejects(head(1n << 62n, 0).build(), /tensor_count 4611686018427387904 and metadata_kv_count 0 cannot fit in a 24-byte file/);
  await rejects(head(0, 0xffffffffffffffffn).raw(new Array(100).fill(0)).build(), /metadata_kv_count 18446744073709551615 cannot fit/);
  await rejects(head(0, 1).u64(1n << 40n).raw(new Array(20).fill(0)).build(), /metadata key #0 length 1099511627776 cannot fit/);
  await rejects(head(0, 1).str('k').u32(13).u32(0).build(), /metadata "k" value type 13 is not a GGUF value type/);
  await rejects(head(0, 1).str('k').u32(7).u8(2).build(), /metadata "k" is a bool with byte value 2/);
  await rejects(head(0, 1).str('k').u32(9).u32(9).u64(0).build(), /metadata "k" is an array of arrays/);
  await rejects(head(0, 1).str('k').u32(9).u32(4).u64(1n << 50n).raw(new Array(64).fill(0)).build(), /metadata "k" array length 1125899906842624 cannot fit/);
  await rejects(head(0, 1).str('k').u32(9).u32(8).u64(3).str('a').u64(1n << 60n).raw(new Array(64).fill(0)).build(), /metadata "k"\[1\] length 1152921504606846976 cannot fit/);
  await rejects(head(0, 1).str('k').u32(8).u64(2).raw([0xc3, 0x28]).build(), /metadata "k" is not valid UTF-8/);
  await rejects(head(0, 2).str('k').u32(0).u8(1).str('k').u32(0).u8(1).build(), /metadata key "k" appears twice/);
  await rejects(head(0, 1).str('general.alignment').u32(4).u32(24).build(), /general.alignment must be a uint32 power of two, got uint32 24/);
  await rejects(head(0, 1).str('general.alignment').u32(5).u32(32).build(), /general.alignment must be a uint32 power of two, got int32 32/);
  await rejects(withTensor([4], 99, 0, 16), /tensor "t" has unknown ggml type 99/);
  await rejects(withTensor([4, 1, 1, 1, 1], 0, 0, 16), /tensor "t" n_dimensions 5 exceeds 4/);
  await rejects(withTensor([1n << 60n], 0, 0, 16), /tensor "t" dimension 0 is 1152921504606846976, absurdly large/);
  await rejects(withTensor([1n << 30n, 1n << 30n], 0, 0, 16), /absurdly many elements/);
  await rejects(withTensor([1e15], 0, 0, 16), /tensor "t" data \[\d+, 4000000000\d+\) runs past the end of the file/);
  await rejects(withTensor([16], 8, 0, 64), /tensor "t" of type Q8_0 needs dimension 0 \(16\) to be a multiple of 32/);
  await rejects(withTensor([4], 0, 8, 64), /tensor "t" offset 8 is not a multiple of the alignment 32/);
  await rejects(withTensor([4], 0, 1n << 40n, 64), /tensor "t" offset 1099511627776 is beyond the end of the file/);
  await rejects(withTensor([4], 0, 64, 64), /tensor "t" data \[\d+, \d+\) runs past the end of the file/);
  await rejects(withTensor([8], 0, 0, 16), /runs past the end of the file/);
  const long = ok();
  info(long, 'x'.repeat(64), [4], 0, 0);
  await rejects(long.pad(32).raw(new Array(16).fill(0)).build(), /name is longer than 63 bytes/);
  const overlap = head(2, 0);
  info(overlap, 'a', [16], 0, 0);
  info(overlap, 'b', [8], 0, 32);
  await rejects(overlap.pad(32).raw(new Array(64).fill(0)).build(), /tensor "b" data overlaps tensor "a"/);
  const dup = head(2, 0);
  info(dup, 'a', [8], 0, 0);
  info(dup, 'a', [8], 0, 32);
  await rejects(dup.pad(32).raw(new Array(64).fill(0)).build(), /tensor "a" appears twice/);
  // A legitimately large header beyond a configured limit is refused rather than read.
  const big = head(0, 1).str('k').u32(8).str('x'.repeat(5000)).build();
  await rejects(big, /header is larger than the 1000-byte limit/, { maxHeaderBytes: 1000 });
  const bf = ok();
  info(bf, 't', [256], 12, 0);
  writeFileSync(file('qk.gguf'), bf.pad(32).raw(new Array(144).fill(0)).build());
  const g = await readGguf(file('qk.gguf'));
  assert.equal(g.tensors[0]!.byteLength, 144, 'Q4_K headers validate');
  await assert.rejects(g.readTensor('t'), /tensor "t" has type Q4_K; kolm dequantizes F32, F16, BF16, Q8_0 and Q4_0/);
});

test('a header longer than the first read (large vocabulary) is read in growing steps', async () => {
  const tokens = Array.from({ length: 120_000 }, (_, i) => `토큰${i}`);
  const p = file('vocab.gguf');
  await writeGguf(p, {
    metadata: [['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', value: tokens }]],
    tensors: [{ name: 't', shape: [2], type: 'F32', data: Float32Array.from([1, 2]) }],
  });
  const g = await readGguf(p);
  const v = g.metadata.get('tokenizer.ggml.tokens')!;
  assert.ok(v.type === 'array' && v.value.length === tokens.length && v.value[119_999] === tokens[119_999]);
  assert.ok(g.dataStart > 1 << 20, `header spans more than the first 1 MiB read (${g.dataStart})`);
  assert.deepEqual([...(await g.readTensor('t'))], [1, 2]);
});

test('fuzz: 3000 seeded mutations of a valid GGUF only ever give a KolmError or a consistent result', async () => {
  const p = file('fuzz-src.gguf');
  await writeGguf(p, {
    metadata: METADATA.slice(0, 5).concat(METADATA.slice(13, 16)),
    tensors: [
      { name: 'a', shape: [32, 2], type: 'Q8_0', data: randomData(64, 3) },
      { name: 'b', shape: [3], type: 'F16', data: randomData(3, 4) },
      { name: 'c', shape: [2], type: 'F32', data: randomData(2, 5) },
    ],
  });
  const valid = new Uint8Array(readFileSync(p));
  const hot = (await readGguf(p)).dataStart;
  const rand = mulberry32(777);
  const target = file('fuzz.gguf');
  const outcomes = { ok: 0, rejected: 0 };
  for (let i = 0; i < 3000; i++) {
    writeFileSync(target, mutate(valid, rand, hot));
    try {
      const g = await readGguf(target);
      for (const t of g.tensors) {
        if (!['F32', 'F16', 'BF16', 'Q8_0'].includes(t.type)) continue;
        assert.equal((await g.readTensor(t.name)).length, t.numel);
      }
      outcomes.ok++;
    } catch (err) {
      if (!(err instanceof KolmError)) throw new Error(`mutation ${i} threw a non-KolmError: ${String((err as Error).stack)}`);
      outcomes.rejected++;
    }
  }
  assert.ok(outcomes.rejected > 1000 && outcomes.ok > 30, `both outcomes exercised: ${JSON.stringify(outcomes)}`);
});
