import { rng } from '../util/random.js';
import { TrainStep } from '../train/step.js';
import { buildTinyDecoder, initTiny, type TinyConfig } from './tiny-transformer.js';
import { reverseBatch } from './reverse-task.js';

export interface DemoOptions {
  steps?: number;
  batch?: number;
  length?: number;
  seed?: number;
  lr?: number;
  threads?: number;
  onStep?: (step: number, loss: number, gradNorm: number) => void;
}

export const DEMO_CONFIG: TinyConfig = { vocab: 12, hidden: 64, heads: 4, kvHeads: 2, ffn: 128, layers: 2, seq: 12 };

/** Train the tiny decoder on sequence reversal through one ORT call per step; returns the loss curve. */
export async function trainDemo(options: DemoOptions = {}): Promise<number[]> {
  const { steps = 50, batch = 32, length = DEMO_CONFIG.seq / 2, seed = 0, lr = 1e-2 } = options;
  const config = { ...DEMO_CONFIG, seq: 2 * length };
  const build = () => {
    const model = buildTinyDecoder(config, batch);
    return { graph: model.graph, loss: model.loss, params: model.params };
  };
  const trainer = await TrainStep.create(
    { build, optimizer: { weightDecay: 0.0 }, session: { threads: options.threads } },
    { step: 0, params: initTiny(config, seed) },
  );
  const random = rng(seed + 1);
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const warm = Math.min(1, (s + 1) / 10);
    const { loss, gradNorm } = await trainer.run([reverseBatch(batch, length, config.vocab, random)], lr * warm);
    losses.push(loss);
    options.onStep?.(s + 1, loss, gradNorm);
  }
  return losses;
}
