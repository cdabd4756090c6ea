import { parseArgs } from 'node:util';
import { trainDemo, DEMO_CONFIG } from '../demo/train-demo.js';
import { Progress } from '../util/progress.js';
import { intOr, numberOr } from './args.js';

/** The main job for now: build a small decoder, train it on sequence reversal in ONNX Runtime, show the loss fall. */
export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { steps: { type: 'string', default: '300' }, seed: { type: 'string', default: '0' }, lr: { type: 'string', default: '0.01' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    console.log('usage: kolm demo [--steps 300] [--seed 0] [--lr 0.01]');
    return;
  }
  const steps = intOr('steps', values.steps, 300, { min: 1 });
  const c = DEMO_CONFIG;
  console.log(`decoder: ${c.layers} layers, hidden ${c.hidden}, ${c.heads} query / ${c.kvHeads} key-value heads, SwiGLU ${c.ffn}, RoPE, vocab ${c.vocab}`);
  console.log(`task: reverse ${c.seq / 2} tokens after a separator; one ONNX Runtime call per step (forward + backward + AdamW)\n`);
  const progress = new Progress('training', steps, 'steps');
  const every = Math.max(1, Math.floor(steps / 10));
  const losses = await trainDemo({
    steps,
    seed: intOr('seed', values.seed, 0),
    lr: numberOr('lr', values.lr, 0.01, { min: 0 }),
    onStep: (step, loss) => {
      progress.tick(1, `loss ${loss.toFixed(3)}`);
      if (step === 1 || step % every === 0) process.stdout.write(`${process.stderr.isTTY ? '\r\x1b[K' : ''}step ${String(step).padStart(4)}  loss ${loss.toFixed(4)}\n`);
    },
  });
  progress.finish();
  console.log(`\nloss ${losses[0]!.toFixed(3)} → ${losses.at(-1)!.toFixed(3)} (chance level ln ${c.vocab - 1} = ${Math.log(c.vocab - 1).toFixed(3)})`);
}
