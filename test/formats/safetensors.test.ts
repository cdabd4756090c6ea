import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  readSafetensors,
  readSafetensorsHeader,
  writeSafetensors,
  type StTensor,
} from '../../src/formats/safetensors.js';
import { f16BitsToF32, f32ToF16Bits } from '../../src/formats/half.js';
import { KolmError } from '../../src/util/errors.js';
import { mulberry32, mutate } from '../fixtures/formats/fuzz.js';

const dir = mkdtempSync(join(tmpdir(), 'kolm-st-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const file = (name: string) => join(dir, name);

function randomTensor(shape: number[], seed: number): StTensor {
  const rand = mulberry32(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = (rand() - 0.5) * 10;
  return { shape, data };
}

/** A safetensors file built byte by byte from the spec, independently of the writer. */
function handMade(header: string | Uint8Array | object, data: number[] | Uint8Array): Uint8Array {
  const json =
    header instanceof Uint8Array ? Buffer.from(header) : Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const out = Buffer.alloc(8 + json.length + data.length);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  out.set(data, 8 + json.length);
  return out;
}

async function rejects(bytes: Uint8Array, pattern: RegExp): Promise<void> {
  const p = file('hostile.safetensors');
  writeFileSync(p, bytes);
  await assert.rejects(readSafetensors(p), (err: unknown) => {
    assert.ok(err instanceof KolmError, `expected KolmError, got ${String(err)}`);
    assert.match(err.message, pattern);
    assert.ok(err.message.includes(p), `message names the file: ${err.message}`);
    return true;
  });
}

test('F32 write → read is bit-identical, with metadata, sorted names, padded header and no temp file left', async () => {
  const tensors: Record<string, StTensor> = {
    'model.layers.0.self_attn.q_proj.weight': randomTensor([8, 4], 1),
    'model.embed_tokens.weight': randomTensor([10, 4], 2),
    scalar: { shape: [], data: new Float32Array([Math.PI]) },
    empty: { shape: [0, 3], data: new Float32Array(0) },
    special: { shape: [5], data: new Float32Array([-0, Infinity, -Infinity, NaN, 1e-45]) },
    '0': randomTensor([2], 3),
  };
  const p = file('a.safetensors');
  await writeSafetensors(p, tensors, { metadata: { format: 'pt', note: '한국어' } });
  const bytes = readFileSync(p);
  const headerLen = Number(bytes.readBigUInt64LE(0));
  assert.equal((8 + headerLen) % 8, 0, 'data section starts 8-byte aligned');
  const header = JSON.parse(bytes.subarray(8, 8 + headerLen).toString('utf8'));
  const order = Object.entries(header)
    .filter(([k]) => k !== '__metadata__')
    .sort(([, a], [, b]) => (a as any).data_offsets[0] - (b as any).data_offsets[0] || (a as any).data_offsets[1] - (b as any).data_offsets[1])
    .map(([k]) => k)
    .filter((k) => tensors[k]!.data.length > 0);
  assert.deepEqual(order, Object.keys(tensors).sort().filter((k) => tensors[k]!.data.length > 0), 'data in sorted name order');

  const back = await readSafetensors(p);
  assert.deepEqual(back.metadata, { format: 'pt', note: '한국어' });
  assert.deepEqual(Object.keys(back.tensors).sort(), Object.keys(tensors).sort());
  for (const [name, t] of Object.entries(tensors)) {
    const r = back.tensors[name]!;
    assert.deepEqual(r.shape, t.shape, name);
    assert.deepEqual(new Uint8Array(r.data.buffer), new Uint8Array(t.data.buffer), `${name} bit-identical`);
  }
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temp file left behind');

  const some = await readSafetensors(p, { names: ['scalar'] });
  assert.deepEqual(Object.keys(some.tensors), ['scalar']);
  await assert.rejects(readSafetensors(p, { names: ['nope'] }), /no tensor named "nope"/);
  const h = await readSafetensorsHeader(p);
  assert.deepEqual(h.tensors['model.embed_tokens.weight']!.shape, [10, 4]);
  assert.equal(h.tensors['model.embed_tokens.weight']!.dtype, 'F32');
});

/** Hand-checked binary16 encodings (IEEE 754, round to nearest, ties to even). */
const F16_TABLE: Array<[number, number]> = [
  [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [0.1, 0x2e66], [1 / 3, 0x3555],
  [65504, 0x7bff], [-65504, 0xfbff], [65519.99, 0x7bff], [65520, 0x7c00], [1e5, 0x7c00],
  [Infinity, 0x7c00], [-Infinity, 0xfc00],
  [2 ** -14, 0x0400], [1023 * 2 ** -24, 0x03ff], [1023.5 * 2 ** -24, 0x0400],
  [2 ** -24, 0x0001], [6e-8, 0x0001], [-6e-8, 0x8001], [3e-8, 0x0001], [2 ** -25, 0x0000], [2.9e-8, 0x0000],
  [1.5 * 2 ** -24, 0x0002], [2.5 * 2 ** -24, 0x0002], [1e-45, 0x0000], [-1e-45, 0x8000],
  [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [1 + 2 ** -11 + 2 ** -20, 0x3c01],
  [2049, 0x6800], [2051, 0x6802],
];

test('F16 encoding matches a hand-checked table (max, subnormals, ties to even, inf, nan, -0)', async () => {
  for (const [x, bits] of F16_TABLE) {
    assert.equal(f32ToF16Bits(x), bits, `${x} → 0x${bits.toString(16)}, got 0x${f32ToF16Bits(x).toString(16)}`);
  }
  const nan = f32ToF16Bits(NaN);
  assert.ok((nan & 0x7c00) === 0x7c00 && (nan & 0x3ff) !== 0, 'NaN stays NaN');

  const values = new Float32Array([...F16_TABLE.map(([x]) => x), NaN]);
  const p = file('f16.safetensors');
  await writeSafetensors(p, { t: { shape: [values.length], data: values } }, { dtype: 'F16' });
  assert.equal(readFileSync(p).length, 8 + Number(readFileSync(p).readBigUInt64LE(0)) + 2 * values.length);
  const back = (await readSafetensors(p)).tensors.t!.data;
  F16_TABLE.forEach(([x, bits], i) => {
    assert.ok(Object.is(back[i], Math.fround(f16BitsToF32(bits))), `${x} read back as ${back[i]}`);
  });
  assert.ok(Number.isNaN(back[values.length - 1]));
  assert.equal(back[F16_TABLE.findIndex(([x]) => x === 65504)], 65504);
  assert.ok(Object.is(back[1], -0));
});

test('F16 encoding equals a nearest-value search over all binary16 values, and decode∘encode is the identity', () => {
  for (let h = 0; h < 0x10000; h++) {
    const isNaN16 = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
    if (!isNaN16) assert.equal(f32ToF16Bits(f16BitsToF32(h)), h, `0x${h.toString(16)}`);
  }
  // Independent oracle: the sorted finite non-negative halves; pick the nearest, ties to the even bit pattern.
  const halves: number[] = [];
  for (let h = 0; h < 0x7c00; h++) halves.push(f16BitsToF32(h));
  const oracle = (x: number): number => {
    const a = Math.abs(x);
    const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
    if (a >= 65520) return sign | 0x7c00; // 65504 + half an ulp (16) and above round to inf
    let lo = 0, hi = halves.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (halves[mid]! <= a) lo = mid; else hi = mid;
    }
    const dl = a - halves[lo]!, dh = halves[hi]! - a;
    const pick = dl < dh ? lo : dh < dl ? hi : lo % 2 === 0 ? lo : hi;
    return sign | pick;
  };
  const rand = mulberry32(7);
  const bits = new Uint32Array(1);
  const f = new Float32Array(bits.buffer);
  for (let i = 0; i < 20000; i++) {
    // Random float32s concentrated on the binary16 exponent range (and a little beyond on both sides).
    const exp = 127 - 28 + Math.floor(rand() * 46);
    bits[0] = ((rand() < 0.5 ? 0x80000000 : 0) | (exp << 23) | Math.floor(rand() * 0x800000)) >>> 0;
    assert.equal(f32ToF16Bits(f[0]!), oracle(f[0]!), `${f[0]}`);
  }
});

test('reads a file assembled by hand from the spec: F16, BF16, unaligned F32 scalar, unpadded header', async () => {
  const header = {
    __metadata__: { format: 'pt' },
    c: { dtype: 'F32', shape: [], data_offsets: [6, 10] },
    a: { dtype: 'F16', shape: [2], data_offsets: [0, 4] },
    b: { dtype: 'BF16', shape: [1, 1], data_offsets: [4, 6] },
  };
  // a = [1, -2] (0x3c00, 0xc000); b = 3.140625 (0x4049); c = 0.5 (0x3f000000), all little-endian.
  const data = [0x00, 0x3c, 0x00, 0xc0, 0x49, 0x40, 0x00, 0x00, 0x00, 0x3f];
  const p = file('hand.safetensors');
  writeFileSync(p, handMade(header, data));
  const { tensors, metadata } = await readSafetensors(p);
  assert.deepEqual(metadata, { format: 'pt' });
  assert.deepEqual([...tensors.a!.data], [1, -2]);
  assert.deepEqual(tensors.b!, { shape: [1, 1], data: new Float32Array([3.140625]) });
  assert.deepEqual(tensors.c!, { shape: [], data: new Float32Array([0.5]) });
  const hdr = await readSafetensorsHeader(p);
  assert.equal(hdr.dataStart, 8 + JSON.stringify(header).length);
  assert.deepEqual(hdr.tensors.b!.dataOffsets, [4, 6]);
});

test('tensors larger than the I/O chunk stream correctly in both directions', async () => {
  const n = (4 << 20) + 12345; // > 8 MiB as F32 and as F16 (4 Mi halves per chunk)
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = (((i * 7919) % 4096) - 2048) / 2; // 11 significant bits: exact in F16
  const p = file('big.safetensors');
  await writeSafetensors(p, { big: { shape: [n], data }, tail: { shape: [1], data: new Float32Array([42]) } }, { dtype: 'F16' });
  const back = await readSafetensors(p);
  const got = back.tensors.big!.data;
  assert.equal(got.length, n);
  const firstDiff = data.findIndex((v, i) => got[i] !== v);
  assert.equal(firstDiff, -1, `first mismatch at ${firstDiff}: ${got[firstDiff]} vs ${data[firstDiff]}`);
  assert.equal(back.tensors.tail!.data[0], 42);
});

test('non-float dtypes validate in the header and are refused by name when decoded', async () => {
  const p = file('ints.safetensors');
  writeFileSync(p, handMade({ ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] }, w: { dtype: 'F32', shape: [1], data_offsets: [16, 20] } }, new Uint8Array(20)));
  assert.equal((await readSafetensorsHeader(p)).tensors.ids!.dtype, 'I64');
  await assert.rejects(readSafetensors(p), /tensor "ids" has dtype I64/);
  assert.deepEqual((await readSafetensors(p, { names: ['w'] })).tensors.w!.data, new Float32Array([0]));
});

test('hostile files fail with a KolmError naming the file, tensor and field, before allocating', async () => {
  const ok = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const d8 = new Uint8Array(8);
  await rejects(new Uint8Array(5), /too short/);
  await rejects(handMade(ok, d8).subarray(0, 20), /header length \d+ is beyond the file/);
  const huge = handMade(ok, d8);
  Buffer.from(huge.buffer).writeBigUInt64LE(0xffffffffffffffffn, 0);
  await rejects(huge, /header length 18446744073709551615 is beyond the file/);
  await rejects(handMade('{"a": {', d8), /not valid JSON/);
  await rejects(handMade('[1,2]', d8), /must be a JSON object/);
  await rejects(handMade(Buffer.from([0x7b, 0xff, 0x7d]), d8), /not valid UTF-8/);
  await rejects(handMade({ a: { dtype: 'F17', shape: [2], data_offsets: [0, 8] } }, d8), /tensor "a": unknown dtype "F17"/);
  await rejects(handMade({ a: { dtype: 'F32', shape: [2.5], data_offsets: [0, 8] } }, d8), /tensor "a": shape \[2\.5\]/);
  await rejects(handMade({ a: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, d8), /tensor "a": shape \[-2\]/);
  await rejects(handMade({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, d8), /tensor "a": data_offsets \[0, 8\] hold 8 bytes but shape \[3\] of F32 needs 12/);
  await rejects(handMade({ a: { dtype: 'F32', shape: [1e15], data_offsets: [0, 8] } }, d8), /shape \[1000000000000000\] of F32 needs 4000000000000000/);
  await rejects(handMade({ a: { dtype: 'F32', shape: [1e9, 1e9], data_offsets: [0, 8] } }, d8), /absurdly large/);
  await rejects(handMade({ a: { dtype: 'F32', shape: [1e15], data_offsets: [0, 4e15] } }, d8), /beyond the data section \(8 bytes\)/);
  await rejects(handMade({ a: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, d8), /data_offsets \[8, 16\] beyond the data section/);
  await rejects(handMade({ a: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, d8), /end before begin/);
  await rejects(handMade({ a: { dtype: 'F32', shape: [2], data_offsets: [0] } }, d8), /tensor "a": data_offsets must be/);
  await rejects(handMade({ a: 5 }, d8), /tensor "a": entry must be an object/);
  await rejects(
    handMade({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, d8),
    /tensor "b" data_offsets \[4, 8\] overlap tensor "a"/,
  );
  await rejects(
    handMade({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, new Uint8Array(12)),
    /tensor "b" data_offsets \[8, 12\] leave a gap after byte 4/,
  );
  await rejects(handMade(ok, new Uint8Array(12)), /data section has 12 bytes but the tensors cover only 8/);
  await rejects(handMade({ ...ok, __metadata__: { n: 1 } }, d8), /__metadata__\["n"\] must be a string/);
  await rejects(handMade({ ...ok, __metadata__: 'x' }, d8), /__metadata__ must be an object/);
  await assert.rejects(readSafetensors(file('missing.safetensors')), (e: unknown) => e instanceof KolmError && /cannot open \(ENOENT\)/.test(e.message));
});

test('a tensor named __proto__ is an ordinary tensor, not a prototype', async () => {
  const p = file('proto.safetensors');
  writeFileSync(p, handMade('{"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(4)));
  const { tensors } = await readSafetensors(p);
  assert.deepEqual(Object.keys(tensors), ['__proto__']);
  assert.equal(Object.getPrototypeOf(tensors), Object.prototype);
});

test('the writer rejects inconsistent input instead of writing a broken file', async () => {
  const p = file('bad.safetensors');
  await assert.rejects(writeSafetensors(p, { a: { shape: [3], data: new Float32Array(2) } }), /tensor "a": shape \[3\] needs 3 values, data has 2/);
  await assert.rejects(writeSafetensors(p, { a: { shape: [-1], data: new Float32Array(0) } }), /bad shape/);
  await assert.rejects(writeSafetensors(p, { a: { shape: [1], data: new Float32Array(1) } }, { dtype: 'I8' as 'F16' }), /cannot write dtype I8/);
});

test('fuzz: 3000 seeded mutations of a valid file only ever give a KolmError or a consistent result', async () => {
  const p = file('fuzz-src.safetensors');
  await writeSafetensors(
    p,
    { 'b.weight': randomTensor([3, 2], 4), 'a.bias': randomTensor([3], 5), c: { shape: [2], data: new Float32Array([1, 2]) } },
    { metadata: { format: 'pt' }, dtype: 'F16' },
  );
  const valid = new Uint8Array(readFileSync(p));
  const headerEnd = 8 + Number(Buffer.from(valid).readBigUInt64LE(0));
  const rand = mulberry32(12345);
  const target = file('fuzz.safetensors');
  const outcomes = { ok: 0, rejected: 0 };
  for (let i = 0; i < 3000; i++) {
    writeFileSync(target, mutate(valid, rand, headerEnd));
    try {
      const { tensors } = await readSafetensors(target);
      for (const t of Object.values(tensors)) assert.equal(t.data.length, t.shape.reduce((a, b) => a * b, 1));
      outcomes.ok++;
    } catch (err) {
      if (!(err instanceof KolmError)) throw new Error(`mutation ${i} threw a non-KolmError: ${String((err as Error).stack)}`);
      outcomes.rejected++;
    }
  }
  assert.ok(outcomes.rejected > 1000 && outcomes.ok > 30, `both outcomes exercised: ${JSON.stringify(outcomes)}`);
});

test('BF16 writing rounds to nearest even and reads back; NaN and infinities survive', async () => {
  const p = join(mkdtempSync(join(tmpdir(), 'kolm-st-bf16-')), 'w.safetensors');
  // 1 + 2^-8 is halfway between bf16 1 and 1 + 2^-7: ties go to even (1); 1 + 3·2^-8 goes up to 1 + 2^-6.
  const values = Float32Array.from([1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -2.5, 1e-3, Infinity, -Infinity, NaN, 3.3895313892515355e38]);
  await writeSafetensors(p, { x: { shape: [values.length], data: values } }, { dtype: 'BF16' });
  const header = await readSafetensorsHeader(p);
  assert.equal(header.tensors['x']!.dtype, 'BF16');
  const back = (await readSafetensors(p)).tensors['x']!.data;
  assert.deepEqual(Array.from(back.subarray(0, 4)), [1, 1, 1 + 2 ** -6, -2.5]);
  assert.ok(Math.abs(back[4]! - 1e-3) < 1e-3 * 2 ** -7);
  assert.deepEqual([back[5], back[6]], [Infinity, -Infinity]);
  assert.ok(Number.isNaN(back[7]!));
  assert.equal(back[8], 3.3895313892515355e38, 'the largest bf16 stays finite');
});
