import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { evaluate } from '../../src/graph/interpreter.js';
import { exportOnnx, saveOnnx } from '../../src/graph/onnx/export.js';
import { ndarray, randn } from '../../src/graph/ndarray.js';
import { rng } from '../../src/util/random.js';
import { Graph, GraphError } from '../../src/graph/tensor.js';
import { Session, toNumbers } from '../../src/runtime/session.js';
import { buildTinyDecoder, initTiny } from '../../src/demo/tiny-transformer.js';
import { reverseBatch } from '../../src/demo/reverse-task.js';
import { trainDemo } from '../../src/demo/train-demo.js';
import { KolmError } from '../../src/util/errors.js';

test('a one-block transformer trained through ORT learns, and a fixed seed gives the same loss curve twice', async () => {
  const first = await trainDemo({ steps: 50, seed: 3, threads: 1 });
  const again = await trainDemo({ steps: 50, seed: 3, threads: 1 });
  assert.deepEqual(again, first, 'same seed, same curve');
  const start = first[0]!;
  const end = first.slice(-5).reduce((a, b) => a + b, 0) / 5;
  assert.ok(start > 2.2, `starts near ln(vocab): ${start}`);
  assert.ok(end < 0.7 * start, `loss should fall well below its start: ${start} -> ${end}`);
  const other = await trainDemo({ steps: 5, seed: 4, threads: 1 });
  assert.notDeepEqual(other, first.slice(0, 5), 'another seed gives another curve');
});

test('ONNX export with embedded and external initializers both run in ORT and match the interpreter', async () => {
  const config = { vocab: 9, hidden: 64, heads: 4, kvHeads: 2, ffn: 96, layers: 1, seq: 6 };
  const model = buildTinyDecoder(config, 2);
  const weights = initTiny(config, 9);
  const batch = reverseBatch(2, 3, config.vocab, rng(1));
  const ids = ndarray('int64', batch.input_ids.shape, batch.input_ids.data);
  const expected = evaluate([model.logits], { ...weights, input_ids: ids })[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'kolm-onnx-'));
  try {
    const embedded = exportOnnx({ logits: model.logits }, { initializers: weights });
    assert.deepEqual(embedded.inputs.map((i) => i.name), ['input_ids'], 'weights became initializers');
    const external = exportOnnx({ logits: model.logits }, { initializers: weights, externalData: { location: 'model.onnx_data' } });
    assert.ok(external.bytes.length < embedded.bytes.length / 4, 'weights left the protobuf');
    await saveOnnx(external, join(dir, 'model.onnx'));
    assert.ok(existsSync(join(dir, 'model.onnx_data')));
    for (const session of [await ort.InferenceSession.create(embedded.bytes), await ort.InferenceSession.create(join(dir, 'model.onnx'))]) {
      const out = await session.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(batch.input_ids.data, BigInt), [2, 6]) });
      const got = toNumbers(out['logits']!);
      got.forEach((v, i) => assert.ok(Math.abs(v - expected.data[i]!) < 1e-4, `logits[${i}] ${v} vs ${expected.data[i]}`));
    }
    const large = Object.values(weights).map((w) => 4 * w.data.length).filter((bytes) => bytes >= 1024);
    assert.equal(readFileSync(join(dir, 'model.onnx_data')).length, large.reduce((a, b) => a + b, 0), 'tensors of 1 KiB and more are external');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('symbolic dims: one session serves several batch sizes', async () => {
  const g = new Graph();
  const x = g.input('x', ['batch', 4]);
  const w = g.input('w', [4, 3]);
  const y = x.matmul(w).softmax(-1).reshape(['batch', 3, 1]);
  const session = await Session.create({ y });
  const wv = randn([4, 3], rng(1));
  for (const batch of [1, 5]) {
    const xv = randn([batch, 4], rng(batch));
    const ref = evaluate([y], { x: xv, w: wv })[0]!;
    const out = (await session.run({ x: xv, w: wv })).y!;
    assert.deepEqual([...out.dims], [batch, 3, 1]);
    toNumbers(out).forEach((v, i) => assert.ok(Math.abs(v - ref.data[i]!) < 1e-5));
  }
});

test('shape errors name the op, the shapes and the line that built the node', () => {
  const g = new Graph();
  const a = g.input('a', [2, 3]);
  const b = g.input('b', [4, 5]);
  assert.throws(() => a.matmul(b), (err: unknown) => {
    assert.ok(err instanceof GraphError);
    assert.match(err.message, /^matmul\(\[2, 3\]:float32, \[4, 5\]:float32\): inner dimensions differ \(3 vs 4\)/);
    assert.match(err.message, /export-train-errors\.test\.js:\d+:\d+/);
    return true;
  });
  assert.throws(() => a.add(g.input('c', [3, 2])), /add\(\[2, 3\]:float32, \[3, 2\]:float32\): shapes \[2, 3\] and \[3, 2\] do not broadcast \(at .*export-train-errors/);
  assert.throws(() => a.reshape([5, -1]), /reshape\(\[2, 3\]:float32\): cannot infer -1/);
  assert.throws(() => g.apply('conv9d', [a]), /unknown op 'conv9d' \(at .*export-train-errors/);
  assert.throws(() => a.transpose([0, 0]), /perm \[0,0\] is not a permutation/);
  assert.throws(() => a.gather(a), /gather\(.*\): indices must be int64, got float32/);
});

test('running a session with missing, unknown or mis-shaped feeds fails clearly', async () => {
  const g = new Graph();
  const x = g.input('x', [2, 2]);
  const session = await Session.create({ y: x.exp() });
  await assert.rejects(session.run({}), (e: unknown) => e instanceof KolmError && /missing feed 'x' \(shape \[2, 2\], float32\)/.test(e.message));
  await assert.rejects(session.run({ x: randn([2, 2], rng(1)), z: randn([1], rng(1)) }), /unknown feed 'z'/);
  await assert.rejects(session.run({ x: randn([3, 2], rng(1)) }), /session run failed: .*(dimension|Got invalid dimensions)/i);
  assert.throws(() => evaluate([x.exp()], { x: randn([3, 2], rng(1)) }), /input 'x' expects \[2, 2\], got \[3, 2\]/);
});
