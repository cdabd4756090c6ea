import { evaluateAlignment } from '../train/align-eval.js';
import { parse, requireOptions } from './align-args.js';

const USAGE = `usage: kolm align-eval --model DIR --mix MIX_DIR [--reward-model RM_DIR] [--limit N] [--max-new-tokens 96] [--out report.json] [--threads N]
  greedy answers to the mix's held-out prompts (eval/benign, eval/harmful, eval/math) and its held-out preference pairs:
  ended-turn rate, answer-language match, refusal rates on harmful and benign prompts, arithmetic accuracy,
  preference accuracy (and reward-model accuracy / mean reward with --reward-model); prints and writes JSON`;

export async function run(argv: string[]): Promise<void> {
  const p = parse(argv, ['model', 'mix', 'reward-model', 'limit', 'max-new-tokens', 'batch', 'out', 'threads', 'samples']);
  if (!requireOptions(p, USAGE, ['model', 'mix'])) return;
  const report = await evaluateAlignment({
    model: p.str('model')!, mix: p.str('mix')!, rewardModel: p.str('reward-model'), limit: p.int('limit', { min: 0 }), maxNewTokens: p.int('max-new-tokens', { min: 1 }), batch: p.int('batch', { min: 1 }), out: p.str('out'),
    threads: p.int('threads', { min: 1 }), samples: p.int('samples', { min: 0 }),
  });
  console.log(JSON.stringify(report, null, 2));
}
