import { parseArgs } from 'node:util';
import { modelOrShipped } from './shipped-model.js';
import { loadModel } from '../infer/model.js';
import type { TextGenerateOptions } from '../infer/model.js';
import { KolmError } from '../util/errors.js';
import { intOption, numberOption, templateKwargsOption } from './args.js';

export const SAMPLING_FLAGS = {
  'max-new-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  'min-p': { type: 'string' },
  'repetition-penalty': { type: 'string' },
  'presence-penalty': { type: 'string' },
  'frequency-penalty': { type: 'string' },
  seed: { type: 'string' },
  stop: { type: 'string', multiple: true },
  truncate: { type: 'string' },
  threads: { type: 'string' },
} as const;

export const SAMPLING_USAGE = `  --max-new-tokens N (128)  --temperature T (0 = greedy)  --top-k K  --top-p P  --min-p P
  --repetition-penalty R  --presence-penalty P  --frequency-penalty F  --seed S
  --stop TEXT (repeatable)  --truncate error|left  --threads N`;

export function samplingOptions(v: Record<string, unknown>): TextGenerateOptions {
  const str = (k: string) => (v[k] === undefined ? undefined : String(v[k]));
  const truncate = v['truncate'] ?? 'error';
  if (truncate !== 'error' && truncate !== 'left') throw new KolmError(`--truncate must be error or left, got '${truncate}'`);
  return {
    maxNewTokens: intOption('max-new-tokens', str('max-new-tokens'), { min: 1 }) ?? 128,
    temperature: numberOption('temperature', str('temperature'), { min: 0 }),
    topK: intOption('top-k', str('top-k'), { min: 0 }),
    topP: numberOption('top-p', str('top-p'), { min: 0, max: 1 }),
    minP: numberOption('min-p', str('min-p'), { min: 0, max: 1 }),
    repetitionPenalty: numberOption('repetition-penalty', str('repetition-penalty'), { min: 0 }),
    presencePenalty: numberOption('presence-penalty', str('presence-penalty')),
    frequencyPenalty: numberOption('frequency-penalty', str('frequency-penalty')),
    seed: intOption('seed', str('seed')),
    stop: v['stop'] as string[] | undefined,
    truncate,
  };
}

const USAGE = `usage: kolm generate [--model DIR (default: the shipped models/kolm-micro)] --prompt TEXT [--json] [--chat]\n${SAMPLING_USAGE}
  --chat   wrap the prompt as one user turn with the model's chat template
  --chat-template-kwargs JSON   template variables for --chat, e.g. '{"force_reasoning": true}'`;

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { ...SAMPLING_FLAGS, model: { type: 'string' }, prompt: { type: 'string' }, json: { type: 'boolean' }, chat: { type: 'boolean' }, 'chat-template-kwargs': { type: 'string' }, help: { type: 'boolean' } } });
  if (values.help || values.prompt === undefined) {
    console.log(USAGE);
    if (!values.help) process.exitCode = 1;
    return;
  }
  const chatTemplateKwargs = templateKwargsOption('chat-template-kwargs', values['chat-template-kwargs']);
  if (chatTemplateKwargs && !values.chat) throw new KolmError('--chat-template-kwargs needs --chat (it is passed to the chat template)');
  values.model = modelOrShipped(values.model);
  const model = await loadModel(values.model, { threads: intOption('threads', values.threads, { min: 1 }) });
  const opts = samplingOptions(values);
  const prompt = values.chat ? model.renderChatPrompt([{ role: 'user', content: values.prompt }], { chatTemplateKwargs }) : values.prompt;
  if (values.json) {
    const c = await model.generate(prompt, opts);
    console.log(JSON.stringify({ ids: c.ids, text: c.text, prompt_tokens: c.promptTokens, completion_tokens: c.completionTokens, finish_reason: c.finishReason }));
    return;
  }
  const stream = model.stream(prompt, opts);
  for await (const delta of stream) process.stdout.write(delta);
  process.stdout.write('\n');
}
