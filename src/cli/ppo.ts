import { KolmError } from '../util/errors.js';
import { ppo } from '../train/ppo.js';
import { OPTIM_OPTIONS, OPTIM_USAGE, optim, parse, requireOptions, template, TEMPLATE_OPTIONS, TEMPLATE_USAGE } from './align-args.js';
import { formatMetric } from '../util/format.js';

const USAGE = `usage: kolm ppo --model SFT_DIR --prompts PROMPTS.jsonl (--reward-model RM_DIR | --reward exact-match) --out DIR [options]
  PPO: rollouts from the policy, rewards from the reward model (normalised, clipped) or a verifiable function
  (exact-match: the answer's last number equals the prompt record's "answer"), per-token KL penalty to the reference,
  GAE, clipped policy and value losses; the value network starts from the reward model
  --iterations N (20)  --rollout-batch 16  --minibatch 8  --ppo-epochs 4  --max-new-tokens 64  --max-prompt-tokens 192
  --kl-coef 0.04  --gamma 1  --lam 0.95  --clip-range 0.2  --clip-range-value 0.2  --vf-coef 0.1  --temperature 1
  --missing-eos-penalty X  --ref DIR  --value-model DIR  --eval-prompts FILE --eval-every N
${OPTIM_USAGE}
${TEMPLATE_USAGE} (lr default 1e-5, constant)
  --seed N  --threads N  --quiet
  writes OUT/model (policy), OUT/value (value network), OUT/metrics.jsonl, OUT/ppo.svg, OUT/summary.json`;

export async function run(argv: string[]): Promise<void> {
  const p = parse(argv, ['model', 'ref', 'prompts', 'reward-model', 'reward', 'value-model', 'eval-prompts', 'eval-every', 'out', 'iterations', 'rollout-batch', 'minibatch', 'ppo-epochs', 'max-new-tokens', 'max-prompt-tokens',
    'kl-coef', 'gamma', 'lam', 'clip-range', 'clip-range-value', 'vf-coef', 'temperature', 'missing-eos-penalty', 'seed', 'threads', ...OPTIM_OPTIONS, ...TEMPLATE_OPTIONS], ['quiet'], ['prompts']);
  if (!requireOptions(p, USAGE, ['model', 'prompts', 'out'])) return;
  const reward = p.str('reward');
  if (reward !== undefined && reward !== 'exact-match') throw new KolmError(`--reward must be exact-match, got '${reward}'`);
  const r = await ppo({
    model: p.str('model')!, ref: p.str('ref'), prompts: p.list('prompts'), rewardModel: p.str('reward-model'), reward, valueModel: p.str('value-model'), evalPrompts: p.str('eval-prompts'),
    evalEvery: p.int('eval-every', { min: 0 }), out: p.str('out')!, iterations: p.int('iterations', { min: 1 }) ?? 20, rolloutBatch: p.int('rollout-batch', { min: 1 }), minibatch: p.int('minibatch', { min: 1 }), ppoEpochs: p.int('ppo-epochs', { min: 1 }),
    maxNewTokens: p.int('max-new-tokens', { min: 1 }), maxPromptTokens: p.int('max-prompt-tokens', { min: 1 }), klCoef: p.num('kl-coef', { min: 0 }), gamma: p.num('gamma', { min: 0, max: 1 }), lam: p.num('lam', { min: 0, max: 1 }), clipRange: p.num('clip-range', { min: 0 }),
    clipRangeValue: p.num('clip-range-value', { min: 0 }), vfCoef: p.num('vf-coef', { min: 0 }), temperature: p.num('temperature', { min: 0 }), missingEosPenalty: p.num('missing-eos-penalty'), seed: p.int('seed'), threads: p.int('threads', { min: 1 }),
    quiet: p.bool('quiet'), ...optim(p), ...template(p),
  });
  const s = r.summary;
  console.log(`done: ${s['iterations']} iterations; mean score (first 5 → last 5) ${formatMetric(s['score_first5'])} → ${formatMetric(s['score_last5'])}, KL ${formatMetric(s['kl_last'])}${s['eval_score_after'] !== null ? `; held-out score ${formatMetric(s['eval_score_before'])} → ${formatMetric(s['eval_score_after'])}` : ''}; policy in ${r.modelDir}`);
}
