/**
 * Quantized model folders (`kolm quantize`): the compressed-tensors "pack-quantized" layout read back by an
 * independent decoder written from that format's definition (int32 words, values offset by 2^(bits−1), low bits
 * first, times the group's scale), round trips, generation from the folder, refusals for training, and hostile
 * files — lying shapes, truncated scales, wrong dtypes, unsupported schemes — refused with the tensor or field named.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors, readSafetensorsHeader, readSafetensorsRaw, writeSafetensors, type StRawTensor, type StTensor } from '../../src/formats/safetensors.js';
import { f16BitsToF32, f32ToF16Bits } from '../../src/formats/half.js';
import { makeConfig } from '../../src/model/config.js';
import { initParams } from '../../src/model/params.js';
import { loadModelFolder, saveModelFolder } from '../../src/model/folder.js';
import { dequantizeMatrix, isQuantized } from '../../src/model/quantize.js';
import { quantizeFolder } from '../../src/model/quantize-folder.js';
import { loadModel } from '../../src/infer/model.js';
import { KolmError } from '../../src/util/errors.js';
import { fixtureTokenizer } from '../../bench/decode.js';

const dir = mkdtempSync(join(tmpdir(), 'kolm-quantized-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const tokPromise = fixtureTokenizer();

async function floatFolder(name: string, fields: Record<string, unknown> = {}): Promise<string> {
  const tok = await tokPromise;
  const c = makeConfig({
    vocab_size: tok.vocabSize, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,
    max_position_embeddings: 128, initializer_range: 0.3, bos_token_id: tok.tokenId('<|endoftext|>')!, eos_token_id: tok.tokenId('<|endoftext|>')!, ...fields,
  });
  const tokDir = join(dir, `${name}-tok`);
  await tok.save(tokDir);
  const path = join(dir, name);
  await saveModelFolder(path, c, initParams(c, 3), { tokenizerDir: tokDir, dtype: 'BF16' });
  return path;
}

/** compressed-tensors' unpack_from_int32, written from the format: int32 words, `bits` per value, low bits first. */
function unpackCompressedTensors(words: Uint8Array, bits: number, rows: number, cols: number, scales: Float32Array, group: number): Float32Array {
  const view = new DataView(words.buffer, words.byteOffset, words.byteLength);
  const perWord = 32 / bits;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const word = view.getUint32((r * (cols / perWord) + Math.floor(c / perWord)) * 4, true);
      const unsigned = (word >>> ((c % perWord) * bits)) & ((1 << bits) - 1);
      out[r * cols + c] = (unsigned - (1 << (bits - 1))) * scales[r * (cols / group) + Math.floor(c / group)]!;
    }
  }
  return out;
}

for (const [bits, group] of [[8, 32], [4, 32], [4, 128]] as const) {
  test(`int${bits}, groups of ${group}: the folder is compressed-tensors pack-quantized, and its layers decode as the format defines`, async () => {
    const src = await floatFolder(`f-${bits}-${group}`, { tie_word_embeddings: false, hidden_size: 128, intermediate_size: 256, torch_dtype: 'bfloat16' });
    const out = join(dir, `q-${bits}-${group}`);
    const summary = await quantizeFolder(src, out, { bits, groupSize: group });
    assert.equal(summary.quantizedLayers, 2 * 7);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { quantization_config: Record<string, unknown> };
    const q = config.quantization_config as { quant_method: string; format: string; config_groups: { group_0: { weights: Record<string, unknown>; targets: string[] } }; ignore: string[] };
    assert.equal(q.quant_method, 'compressed-tensors');
    assert.equal(q.format, 'pack-quantized');
    assert.deepEqual(q.config_groups.group_0.targets, ['Linear']);
    assert.deepEqual({ ...q.config_groups.group_0.weights }, { num_bits: bits, type: 'int', symmetric: true, strategy: 'group', group_size: group, dynamic: false, actorder: null, observer: 'minmax', block_structure: null });
    assert.deepEqual(q.ignore, ['lm_head'], 'an untied lm_head stays float unless asked');

    const file = join(out, 'model.safetensors');
    const header = await readSafetensorsHeader(file);
    const name = 'model.layers.1.mlp.down_proj';
    assert.equal(header.tensors[`${name}.weight`], undefined);
    assert.deepEqual({ dtype: header.tensors[`${name}.weight_packed`]!.dtype, shape: header.tensors[`${name}.weight_packed`]!.shape }, { dtype: 'I32', shape: [128, (256 * bits) / 32] });
    assert.deepEqual({ dtype: header.tensors[`${name}.weight_scale`]!.dtype, shape: header.tensors[`${name}.weight_scale`]!.shape }, { dtype: 'F16', shape: [128, 256 / group] });
    assert.equal(header.tensors['model.embed_tokens.weight']!.dtype, 'BF16', 'float tensors keep the source folder\'s storage');
    const raw = await readSafetensorsRaw(file, [`${name}.weight_packed`, `${name}.weight_shape`], ['I32', 'I64']);
    assert.deepEqual(Array.from(new BigInt64Array(raw[`${name}.weight_shape`]!.bytes.slice().buffer), Number), [128, 256]);
    const scales = (await readSafetensors(file, { names: [`${name}.weight_scale`] })).tensors[`${name}.weight_scale`]!.data;
    const decoded = unpackCompressedTensors(raw[`${name}.weight_packed`]!.bytes, bits, 128, 256, scales, group);

    const float = (await loadModelFolder(src)).weights[`${name}.weight`]!.data;
    const loaded = await loadModelFolder(out, { quantized: true });
    const m = loaded.weights[`${name}.weight`]!;
    assert.ok(isQuantized(m));
    assert.deepEqual(Array.from(dequantizeMatrix(m)), Array.from(decoded), 'kolm and the format agree on every value');
    for (let i = 0; i < float.length; i++) {
      const step = Math.abs(scales[Math.floor(i / group)]!);
      assert.ok(Math.abs(decoded[i]! - float[i]!) <= step + 1e-6, `value ${i}: ${float[i]} → ${decoded[i]}`);
    }
    assert.ok(!isQuantized(loaded.weights['lm_head.weight']) && !isQuantized(loaded.weights['model.embed_tokens.weight']));
  });
}

test('a quantized folder generates, its output close to the float folder\'s; training commands refuse it', async () => {
  const src = await floatFolder('gen');
  const out = join(dir, 'gen-int8');
  await quantizeFolder(src, out, { bits: 8 });
  const [a, b] = [await loadModel(src, { threads: 1 }), await loadModel(out, { threads: 1, accuracyLevel: 0 })];
  const prompt = '서울은 대한민국의 수도이며 The capital';
  const [x, y] = [await a.generate(prompt, { maxNewTokens: 12 }), await b.generate(prompt, { maxNewTokens: 12 })];
  assert.equal(y.ids.length, 12);
  // int8 of a random model: the greedy paths agree at least at their start.
  assert.deepEqual(y.ids.slice(0, 4), x.ids.slice(0, 4));
  await assert.rejects(loadModelFolder(out), (e: unknown) => e instanceof KolmError && /is quantized .*int8, groups of 32.*needs float weights/.test(e.message));
  await assert.rejects(quantizeFolder(out, join(dir, 'twice'), { bits: 4 }), /is quantized/);
});

/** Rewrite one tensor of a folder's model.safetensors (everything else kept). */
async function tamper(path: string, edit: (t: Record<string, StTensor | StRawTensor>) => void): Promise<void> {
  const file = join(path, 'model.safetensors');
  const header = await readSafetensorsHeader(file);
  const raw = Object.entries(header.tensors).filter(([, e]) => e.dtype === 'I32' || e.dtype === 'I64').map(([n]) => n);
  const floats = Object.keys(header.tensors).filter((n) => !raw.includes(n));
  const tensors: Record<string, StTensor | StRawTensor> = { ...(await readSafetensors(file, { names: floats })).tensors, ...(await readSafetensorsRaw(file, raw, ['I32', 'I64'])) };
  edit(tensors);
  await writeSafetensors(file, tensors, { dtype: 'F32' });
}

test('hostile quantized folders are refused with the tensor or field named', async () => {
  const src = await floatFolder('hostile-src');
  const base = join(dir, 'hostile');
  await quantizeFolder(src, base, { bits: 4 });
  const layer = 'model.layers.0.self_attn.o_proj';
  const cases: Array<[string, (p: string) => Promise<void>, RegExp]> = [
    ['lying weight_shape', (p) => tamper(p, (t) => void ((t[`${layer}.weight_shape`] as StRawTensor).bytes = new Uint8Array(BigInt64Array.from([64n, 256n]).buffer))), /weight_shape' is \[64, 256\], config.json implies \[64, 64\]/],
    ['truncated scales', (p) => tamper(p, (t) => void (t[`${layer}.weight_scale`] = { shape: [64, 1], data: new Float32Array(64) })), /weight_scale' has shape \[64,1\], expected \[64,2\]/],
    ['packed values of the wrong size', (p) => tamper(p, (t) => void (t[`${layer}.weight_packed`] = { dtype: 'I32', shape: [64, 4], bytes: new Uint8Array(64 * 16) })), /weight_packed' has shape \[64,4\], expected \[64,8\]/],
    ['packed values stored as floats', (p) => tamper(p, (t) => void (t[`${layer}.weight_packed`] = { shape: [64, 8], data: new Float32Array(512) })), /weight_packed" has dtype F32; expected I32/],
    ['a missing scale', (p) => tamper(p, (t) => void delete t[`${layer}.weight_scale`]), /missing tensor 'model\.layers\.0\.self_attn\.o_proj\.weight_scale'/],
    ['asymmetric quantization', (p) => editConfig(p, (q) => void (q.config_groups.group_0.weights.symmetric = false)), /quantization_config\.config_groups\.group_0\.weights\.symmetric must be true/],
    ['another method', (p) => editConfig(p, (q) => void (q.quant_method = 'gptq')), /quantization_config\.quant_method must be "compressed-tensors" \(got "gptq"\)/],
    ['3-bit values', (p) => editConfig(p, (q) => void (q.config_groups.group_0.weights.num_bits = 3)), /num_bits must be 4 or 8/],
    ['a group size that is not a power of two', (p) => editConfig(p, (q) => void (q.config_groups.group_0.weights.group_size = 48)), /group_size must be a power of two/],
    ['quantized activations', (p) => editConfig(p, (q) => void (q.config_groups.group_0.input_activations = { num_bits: 8 })), /input_activations must be null/],
  ];
  for (const [label, spoil, pattern] of cases) {
    const path = join(dir, `hostile-${label.replace(/\W+/g, '-')}`);
    rmSync(path, { recursive: true, force: true });
    await quantizeFolder(src, path, { bits: 4 });
    await spoil(path);
    await assert.rejects(loadModelFolder(path, { quantized: true }), (e: unknown) => e instanceof KolmError && pattern.test(e.message), `${label}: ${pattern}`);
  }
});

type QConfig = { quant_method: string; config_groups: { group_0: { weights: Record<string, unknown>; input_activations: unknown } } };
async function editConfig(path: string, edit: (q: QConfig) => void): Promise<void> {
  const file = join(path, 'config.json');
  const c = JSON.parse(readFileSync(file, 'utf8')) as { quantization_config: QConfig };
  edit(c.quantization_config);
  writeFileSync(file, JSON.stringify(c));
}

test('quantize refuses group sizes the rows do not divide into, naming the layer', async () => {
  const src = await floatFolder('odd', { hidden_size: 96, num_attention_heads: 4, head_dim: 24 });
  await assert.rejects(quantizeFolder(src, join(dir, 'odd-q'), { bits: 4, groupSize: 64 }), /'model\.layers\.0\.self_attn\.q_proj\.weight' has rows of 96 values, which do not divide into groups of 64/);
  // Binary16 scales are exact in the file: the round trip of every scale is the identity.
  const out = join(dir, 'odd-q32');
  await quantizeFolder(src, out, { bits: 4, groupSize: 32 });
  const m = (await loadModelFolder(out, { quantized: true })).weights['model.layers.1.mlp.up_proj.weight']!;
  assert.ok(isQuantized(m));
  for (const s of m.scales) assert.equal(s, f16BitsToF32(f32ToF16Bits(s)));
});
