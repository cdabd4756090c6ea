/**
 * Files written by the reference implementations (HF `safetensors` and llama.cpp's `gguf-py`; see
 * fixtures/formats/make_reference.py): kolm must read them exactly and, given the same content, write the same bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from '../../src/formats/safetensors.js';
import { quantizeQ8_0, readGguf, writeGguf, type GgufWriteTensor } from '../../src/formats/gguf/index.js';
import { f16BitsToF32, f32ToF16Bits } from '../../src/formats/half.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'fixtures', 'formats');
const dir = mkdtempSync(join(tmpdir(), 'kolm-ref-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** The generator's values: exact rationals rounded once to float32, identical in numpy and here. */
const values = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.fround((((i * 37 + seed) % 101) - 50) / 7));
const asF16 = (x: Float32Array) => x.map((v) => f16BitsToF32(f32ToF16Bits(v)));

test('reads a safetensors file written by HF safetensors (F32, F16, and an I64 tensor left undecoded)', async () => {
  const p = join(FIXTURES, 'reference.safetensors');
  const header = await readSafetensorsHeader(p);
  assert.deepEqual(header.tensors.ids, { dtype: 'I64', shape: [3], dataOffsets: [0, 24] });
  const { tensors, metadata } = await readSafetensors(p, { names: ['model.embed_tokens.weight', 'model.norm.weight', 'lm_head.weight'] });
  assert.deepEqual(metadata, { format: 'pt' });
  assert.deepEqual(tensors['model.embed_tokens.weight'], { shape: [6, 4], data: values(24, 1) });
  assert.deepEqual(tensors['model.norm.weight'], { shape: [4], data: values(4, 2) });
  assert.deepEqual(tensors['lm_head.weight'], { shape: [6, 4], data: asF16(values(24, 3)) });
});

test('writes the same safetensors bytes as HF safetensors for the same tensors', async () => {
  const p = join(dir, 'mine.safetensors');
  await writeSafetensors(p, { 'b.weight': { shape: [3, 2], data: values(6, 7) }, 'a.weight': { shape: [5], data: values(5, 8) } }, { metadata: { format: 'pt' } });
  assert.deepEqual(readFileSync(p), readFileSync(join(FIXTURES, 'reference-f32.safetensors')));
});

test('reads a GGUF written by gguf-py: metadata types, F32, F16 and Q8_0 bytes equal to kolm quantizer', async () => {
  const p = join(FIXTURES, 'reference.gguf');
  const g = await readGguf(p);
  assert.deepEqual([...g.metadata.keys()], [
    'general.architecture', 'general.name', 'general.quantization_version', 'llama.block_count',
    'llama.attention.layer_norm_rms_epsilon', 'llama.rope.freq_base', 'tokenizer.ggml.model', 'tokenizer.ggml.tokens',
    'tokenizer.ggml.scores', 'tokenizer.ggml.token_type', 'kolm.flag', 'kolm.big',
  ]);
  assert.deepEqual(g.metadata.get('general.architecture'), { type: 'string', value: 'llama' });
  assert.deepEqual(g.metadata.get('llama.attention.layer_norm_rms_epsilon'), { type: 'float32', value: Math.fround(1e-5) });
  assert.deepEqual(g.metadata.get('tokenizer.ggml.tokens'), { type: 'array', itemType: 'string', value: ['<s>', '안녕', 'Ġworld'] });
  assert.deepEqual(g.metadata.get('tokenizer.ggml.token_type'), { type: 'array', itemType: 'int32', value: [3, 1, 1] });
  assert.deepEqual(g.metadata.get('kolm.flag'), { type: 'bool', value: true });
  assert.deepEqual(g.metadata.get('kolm.big'), { type: 'uint64', value: 2n ** 40n + 3n });
  assert.deepEqual(g.tensors.map((t) => [t.name, t.shape, t.type]), [
    ['token_embd.weight', [64, 3], 'F32'], ['output_norm.weight', [64], 'F16'], ['blk.0.attn_q.weight', [64, 2], 'Q8_0'],
  ]);
  assert.deepEqual(await g.readTensor('token_embd.weight'), values(192, 4));
  assert.deepEqual(await g.readTensor('output_norm.weight'), asF16(values(64, 5)));
  const q = g.tensors[2]!;
  const mine = new Uint8Array(4 * 34);
  quantizeQ8_0(values(128, 6), mine);
  assert.deepEqual(readFileSync(p).subarray(q.offset, q.offset + q.byteLength), Buffer.from(mine), 'Q8_0 bytes identical to ggml reference');
});

test('writes the same GGUF bytes as gguf-py for the same metadata and tensors', async () => {
  const ref = await readGguf(join(FIXTURES, 'reference.gguf'));
  const tensors: GgufWriteTensor[] = [
    { name: 'token_embd.weight', shape: [64, 3], type: 'F32', data: values(192, 4) },
    { name: 'output_norm.weight', shape: [64], type: 'F16', data: values(64, 5) },
    { name: 'blk.0.attn_q.weight', shape: [64, 2], type: 'Q8_0', data: values(128, 6) },
  ];
  const p = join(dir, 'mine.gguf');
  await writeGguf(p, { metadata: ref.metadata, tensors });
  assert.deepEqual(readFileSync(p), readFileSync(join(FIXTURES, 'reference.gguf')));
});
