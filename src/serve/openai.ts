/**
 * The OpenAI protocol: request validation (every refused field is named), prompts from chat messages, tool calling,
 * `response_format`, log-probabilities, and the response and streaming chunk shapes of `/v1/chat/completions`,
 * `/v1/completions`, `/v1/models`, plus vLLM-style `/tokenize` and `/detokenize`.
 *
 * Unknown request fields are refused with 400 (as api.openai.com does: "Unrecognized request argument supplied"),
 * so a misspelt parameter never passes silently. Accepted beyond OpenAI's set: `top_k`, `min_p`,
 * `repetition_penalty`, `ignore_eos` and `chat_template_kwargs`, as vLLM accepts them.
 *
 * The handlers the server routes to, in parts: chat-completions.ts (with chat-request.ts for messages, tools and
 * `response_format`), completions.ts, and here `/v1/models`, `/tokenize` and `/detokenize`; protocol.ts holds what
 * they share (context, common parameters, budgets, errors, usage).
 */
import { ApiError, Fields, invalid } from './validate.js';
import { checkModel, tokenText, type Context, type Reply } from './protocol.js';
import { encodeChat, parseMessages, parseTemplateKwargs, parseTools } from './chat-request.js';

export { chatCompletions } from './chat-completions.js';
export { completions } from './completions.js';
export { encodeChat } from './chat-request.js';
export { tokenText, type Context, type Reply, type Sse } from './protocol.js';

// ---------------------------------------------------------------------------------------------------------------
// Models, tokenize, detokenize

export function listModels(ctx: Context): Reply {
  return { status: 200, body: { object: 'list', data: [modelCard(ctx)] } };
}

export function getModel(ctx: Context, name: string): Reply {
  if (name !== ctx.modelId) throw new ApiError(404, `The model '${name}' does not exist`, 'model', 'model_not_found');
  return { status: 200, body: modelCard(ctx) };
}

function modelCard(ctx: Context) {
  return { id: ctx.modelId, object: 'model', created: ctx.created, owned_by: 'kolm', max_model_len: ctx.engine.model.config.max_position_embeddings };
}

export function tokenize(ctx: Context, body: unknown): Reply {
  const f = Fields.of(body, '');
  f.only(['model', 'prompt', 'messages', 'tools', 'chat_template_kwargs', 'add_special_tokens', 'add_generation_prompt', 'return_token_strs']);
  if (f.has('model')) checkModel(ctx, f);
  f.boolean('add_special_tokens');
  f.boolean('add_generation_prompt');
  const tok = ctx.engine.model.tokenizer;
  let tokens: number[];
  if (f.has('messages')) {
    if (f.has('prompt')) throw invalid('prompt', "Give either 'prompt' or 'messages', not both", 'invalid_value');
    const tools = parseTools(f);
    tokens = encodeChat(tok, parseMessages(f), { tools: tools ? (f.raw('tools') as unknown[]) : undefined, kwargs: parseTemplateKwargs(f, ctx.chatTemplateKwargs) });
  } else {
    if (f.has('chat_template_kwargs')) throw invalid('chat_template_kwargs', "'chat_template_kwargs' is only allowed with 'messages'", 'invalid_value');
    tokens = tok.encode(f.string('prompt', { required: true, allowEmpty: true })!, { allowSpecial: true });
  }
  const out: Record<string, unknown> = { count: tokens.length, max_model_len: ctx.engine.model.config.max_position_embeddings, tokens };
  if (f.boolean('return_token_strs')) out['token_strs'] = tokens.map((t) => tokenText(tok, t));
  return { status: 200, body: out };
}

export function detokenize(ctx: Context, body: unknown): Reply {
  const f = Fields.of(body, '');
  f.only(['model', 'tokens']);
  if (f.has('model')) checkModel(ctx, f);
  const tok = ctx.engine.model.tokenizer;
  const tokens = f.array('tokens', { required: true })!.map((t, i) => {
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t >= tok.vocabSize) throw invalid(`tokens[${i}]`, `Invalid token id in 'tokens[${i}]': ${JSON.stringify(t)} (the vocabulary is 0..${tok.vocabSize - 1})`, 'invalid_value');
    return t;
  });
  return { status: 200, body: { prompt: tok.decode(tokens) } };
}
