import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ShardWriter, INDEX_FILE, emptySummary, readTokens, type ShardIndex } from '../../src/data/shards.js';
import { TokenLoader } from '../../src/data/loader.js';
import { writeFileAtomicSync } from '../../src/util/atomic.js';
import { Rng } from '../../src/util/random.js';

const EOS = 0;

/** Shards whose token stream is 1, 2, 3, ... with an EOS after each document, so every window is checkable. */
function makeShards(dir: string, dtype: 'uint16' | 'uint32', docs: number[][], maxTokens: number): ShardIndex {
  const index: ShardIndex = {
    format: 'kolm-token-shards', version: 1, dtype, vocabSize: dtype === 'uint16' ? 60000 : 100000, eosId: EOS,
    tokenizerHash: 'test', seed: 0, langs: ['ko', 'en', 'code', 'other'], sources: ['s'],
    splits: { train: emptySummary(), validation: emptySummary() }, shards: [],
  };
  for (const split of ['train', 'validation'] as const) {
    const w = new ShardWriter(dir, split, dtype, maxTokens, EOS);
    for (const ids of split === 'train' ? docs : docs.slice(0, 3)) w.add(ids, 0, 0, false);
    index.shards.push(...w.finish());
  }
  writeFileAtomicSync(join(dir, INDEX_FILE), JSON.stringify(index));
  return index;
}

function counterDocs(n: number, rng: Rng, base = 1): number[][] {
  let next = base;
  return Array.from({ length: n }, () => Array.from({ length: 5 + rng.int(60) }, () => next++));
}

test('shards round-trip token ids (uint16 and uint32), documents never straddle shards', () => {
  for (const dtype of ['uint16', 'uint32'] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'kolm-shards-'));
    try {
      const docs = counterDocs(200, new Rng(1), dtype === 'uint32' ? 70000 : 1);
      const index = makeShards(dir, dtype, docs, 1000);
      const train = index.shards.filter((s) => s.split === 'train');
      assert.ok(train.length > 3, 'several shards');
      let d = 0;
      for (const shard of train) {
        const bytes = readFileSync(join(dir, shard.file));
        assert.equal(bytes.length, shard.tokens * (dtype === 'uint16' ? 2 : 4));
        assert.ok(shard.tokens <= 1000);
        const fd = openSync(join(dir, shard.file), 'r');
        const offsets = [...shard.documents.offsets, shard.tokens];
        for (let k = 0; k + 1 < offsets.length; k++, d++) {
          const got = Array.from(readTokens(fd, dtype, offsets[k], offsets[k + 1] - offsets[k]));
          assert.deepEqual(got, [...docs[d], EOS]);
        }
        closeSync(fd);
        // Little-endian on disk regardless of the host.
        const first = dtype === 'uint16' ? bytes.readUInt16LE(0) : bytes.readUInt32LE(0);
        assert.equal(first, docs[d - shard.documents.offsets.length][0]);
      }
      assert.equal(d, docs.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('loader: windows of T+1 contiguous tokens, deterministic by seed, resumable exactly', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kolm-loader-'));
  try {
    const docs = counterDocs(300, new Rng(2));
    makeShards(dir, 'uint16', docs, 2000);
    const stream = docs.flatMap((d) => [...d, EOS]);
    const T = 16, B = 4;
    const a = new TokenLoader(dir, { seqLen: T, batchSize: B, seed: 11 });
    const batches = Array.from({ length: 6 }, () => Array.from(a.nextBatch()));
    for (const batch of batches) {
      assert.equal(batch.length, B * (T + 1));
      for (let b = 0; b < B; b++) {
        const w = batch.slice(b * (T + 1), (b + 1) * (T + 1));
        const first = w.find((x) => x !== EOS)!;
        const at = stream.indexOf(first) - w.indexOf(first);
        assert.deepEqual(w, stream.slice(at, at + T + 1), 'a window is a contiguous run of the token stream');
      }
    }
    // Same seed → same windows; another seed → other windows.
    const again = new TokenLoader(dir, { seqLen: T, batchSize: B, seed: 11 });
    assert.deepEqual(Array.from(again.nextBatch()), batches[0]);
    const other = new TokenLoader(dir, { seqLen: T, batchSize: B, seed: 12 });
    assert.notDeepEqual(Array.from(other.nextBatch()), batches[0]);

    // Resume: state after 3 batches, restored into a fresh loader, continues with batch 4.
    const b = new TokenLoader(dir, { seqLen: T, batchSize: B, seed: 11 });
    for (let i = 0; i < 3; i++) b.nextBatch();
    const saved = JSON.parse(JSON.stringify(b.state()));
    const c = new TokenLoader(dir, { seqLen: T, batchSize: B, seed: 0 });
    c.restore(saved);
    assert.deepEqual(Array.from(c.nextBatch()), batches[3]);
    assert.deepEqual(Array.from(c.nextBatch()), batches[4]);
    assert.throws(() => new TokenLoader(dir, { seqLen: 8, seed: 11 }).restore(saved), /saved state is for/);
    for (const l of [a, again, other, b, c]) l.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loader: sequential order walks non-overlapping windows of a split', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kolm-loader-'));
  try {
    const docs = counterDocs(3, new Rng(3));
    makeShards(dir, 'uint16', docs, 1 << 20);
    const stream = docs.flatMap((d) => [...d, EOS]);
    const T = 8;
    const v = new TokenLoader(dir, { split: 'validation', seqLen: T, order: 'sequential' });
    const n = Math.floor((stream.length - 1) / T);
    assert.equal(v.positions, n);
    for (let i = 0; i < n; i++) assert.deepEqual(Array.from(v.nextWindow()), stream.slice(i * T, i * T + T + 1));
    assert.deepEqual(Array.from(v.nextWindow()), stream.slice(0, T + 1), 'wraps around');
    v.close();
    assert.throws(() => new TokenLoader(dir, { split: 'validation', seqLen: 10_000 }), /no validation shard holds/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
