/** Mean next-token loss of a model folder over fixed windows of a shard split (validation, context-length checks). */
import { TokenLoader } from '../data/loader.js';
import type { Split } from '../data/shards.js';
import type { RopeScaling } from '../model/config.js';
import { loadModelFolder } from '../model/folder.js';
import { Session, type FeedValue } from '../runtime/session.js';
import { KolmError } from '../util/errors.js';
import { buildLmGraph, windowsToBatch } from './lm.js';

export interface ValidateOptions {
  model: string;
  data: string;
  seq: number;
  batch?: number;
  batches?: number;
  split?: Split;
  /** Evaluate with this RoPE scaling instead of the config's (e.g. to test context extension without training). */
  ropeScaling?: RopeScaling | null;
  threads?: number;
}

export async function validationLoss(o: ValidateOptions): Promise<{ loss: number; tokens: number }> {
  const { config: base, weights } = await loadModelFolder(o.model);
  const config = o.ropeScaling === undefined ? base : { ...base, rope_scaling: o.ropeScaling, max_position_embeddings: Math.max(base.max_position_embeddings, o.seq) };
  const batch = o.batch ?? 4;
  const batches = o.batches ?? 8;
  const loader = new TokenLoader(o.data, { split: o.split ?? 'validation', seqLen: o.seq, batchSize: batch, order: 'sequential' });
  if (loader.index.vocabSize > config.vocab_size) throw new KolmError(`${o.data}: shards use ${loader.index.vocabSize} tokens, the model has ${config.vocab_size}`);
  try {
    const session = await Session.create({ loss: buildLmGraph(config, batch, o.seq).loss }, { graphName: 'validation', threads: o.threads });
    return { loss: await meanLoss(session, weights, loader, batches), tokens: batches * batch * o.seq };
  } finally {
    loader.close();
  }
}

/** Mean of a `loss` graph over the loader's next `batches` batches, with `weights` fed alongside. */
export async function meanLoss(session: Session, weights: Record<string, FeedValue>, loader: TokenLoader, batches: number): Promise<number> {
  let sum = 0;
  for (let i = 0; i < batches; i++) {
    const out = await session.run({ ...weights, ...windowsToBatch(loader.nextBatch(), loader.batchSize, loader.seqLen) });
    sum += (out['loss']!.data as Float32Array)[0]!;
  }
  return sum / batches;
}
