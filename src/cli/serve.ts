import { parseArgs } from 'node:util';
import { modelOrShipped } from './shipped-model.js';
import { loadModel } from '../infer/model.js';
import { serve } from '../serve/server.js';
import { intOption, templateKwargsOption } from './args.js';

const USAGE = `usage: kolm serve [--model DIR (default: the shipped models/kolm-micro)] [--host 127.0.0.1] [--port 8000] [--api-key KEY] [--max-batch 16] [--queue 64]
  --model-name NAME     the id clients pass as "model" (default: the folder's name)
  --max-body BYTES      largest request body (default 8388608)
  --timeout SECONDS     generation deadline per request (default 600)
  --threads N           prefill/scoring threads (default: all cores)
  --decode-threads N    decode-step threads (default 1)
  --no-web              do not serve the chat page at /
  --chat-template-kwargs JSON   template variables for every chat request, e.g. '{"force_reasoning": true}'
                        (a request's chat_template_kwargs override them key by key)
The API key can also come from KOLM_API_KEY.`;

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '8000' }, 'api-key': { type: 'string' },
      'max-batch': { type: 'string' }, queue: { type: 'string' }, 'model-name': { type: 'string' }, 'max-body': { type: 'string' }, timeout: { type: 'string' },
      threads: { type: 'string' }, 'decode-threads': { type: 'string' }, 'no-web': { type: 'boolean' }, 'chat-template-kwargs': { type: 'string' }, help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const chatTemplateKwargs = templateKwargsOption('chat-template-kwargs', values['chat-template-kwargs']);
  values.model = modelOrShipped(values.model);
  const model = await loadModel(values.model, { threads: intOption('threads', values.threads, { min: 1 }), decodeThreads: intOption('decode-threads', values['decode-threads'], { min: 1 }) });
  const server = await serve(model, {
    host: values.host,
    port: intOption('port', values.port, { min: 0 }),
    apiKey: values['api-key'] ?? (process.env['KOLM_API_KEY'] || undefined),
    modelId: values['model-name'],
    maxBatch: intOption('max-batch', values['max-batch'], { min: 1 }),
    maxQueue: intOption('queue', values.queue, { min: 0 }),
    maxBodyBytes: intOption('max-body', values['max-body'], { min: 1024 }),
    requestTimeoutMs: values.timeout === undefined ? undefined : intOption('timeout', values.timeout, { min: 1 })! * 1000,
    web: !values['no-web'],
    chatTemplateKwargs,
  });
  console.log(`kolm serve: model '${server.modelId}' on ${server.url} (OpenAI API at ${server.url}/v1, chat page at ${server.url}/)`);
  const stop = () => {
    console.log('kolm serve: shutting down');
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
