import { parseArgs } from 'node:util';
import { modelOrShipped } from './shipped-model.js';
import { createInterface } from 'node:readline';
import { loadModel } from '../infer/model.js';
import type { ChatMessage } from '../tokenizer/chat-template.js';
import { intOption, templateKwargsOption, toolsOption } from './args.js';
import { SAMPLING_FLAGS, SAMPLING_USAGE, samplingOptions } from './generate.js';

const USAGE = `usage: kolm chat [--model DIR (default: the shipped models/kolm-micro)] [--system TEXT]
  --tools FILE.json     OpenAI-style tools array, listed to the model by its chat template
  --chat-template-kwargs JSON   template variables, e.g. '{"force_reasoning": true}'
${SAMPLING_USAGE}
The folder's own chat template (chat_template.jinja or tokenizer_config.json) renders the conversation.
In the chat: /reset clears the history, /exit (or Ctrl-D) leaves; Ctrl-C stops the answer being written.`;

/** A terminal chat: streaming answers, history, /reset, and Ctrl-C that interrupts an answer, not the REPL. */
export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { ...SAMPLING_FLAGS, model: { type: 'string' }, system: { type: 'string' }, tools: { type: 'string' }, 'chat-template-kwargs': { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const render = { tools: toolsOption('tools', values.tools), chatTemplateKwargs: templateKwargsOption('chat-template-kwargs', values['chat-template-kwargs']) };
  values.model = modelOrShipped(values.model);
  const model = await loadModel(values.model, { threads: intOption('threads', values.threads, { min: 1 }) });
  const opts = { ...samplingOptions({ 'max-new-tokens': '512', ...values }), ...render };
  const fresh = (): ChatMessage[] => (values.system ? [{ role: 'system', content: values.system }] : []);
  let history = fresh();
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: Boolean(process.stdin.isTTY) });
  let answering: AbortController | undefined;
  rl.on('SIGINT', () => {
    if (answering) answering.abort();
    else rl.close();
  });
  console.log(`kolm chat — ${values.model} (${model.config.model_type}, ${model.config.num_hidden_layers} layers). /reset, /exit, Ctrl-C stops an answer.`);
  const prompt = () => process.stdout.write('> ');
  prompt();
  // Iterating the interface buffers piped input line by line (question() would drop lines typed ahead).
  for await (const raw of rl) {
    const line = raw.trim();
    if (line === '/exit' || line === '/quit') break;
    if (line === '/reset') {
      history = fresh();
      console.log('(history cleared)');
    } else if (line) {
      history.push({ role: 'user', content: line });
      answering = new AbortController();
      let answer = '';
      try {
        for await (const delta of model.streamChat(history, { ...opts, signal: answering.signal })) {
          answer += delta;
          process.stdout.write(delta);
        }
      } finally {
        process.stdout.write(answering.signal.aborted ? ' [stopped]\n' : '\n');
        answering = undefined;
      }
      history.push({ role: 'assistant', content: answer });
    }
    prompt();
  }
  process.stdout.write('\n');
  rl.close();
}
