/**
 * The OpenAI protocol: request validation (every refused field is named), prompts from chat messages, tool calling,
 * `response_format`, log-probabilities, and the response and streaming chunk shapes of `/v1/chat/completions`,
 * `/v1/completions`, `/v1/models`, plus vLLM-style `/tokenize` and `/detokenize`.
 *
 * Unknown request fields are refused with 400 (as api.openai.com does: "Unrecognized request argument supplied"),
 * so a misspelt parameter never passes silently. Accepted beyond OpenAI's set: `top_k`, `min_p`,
 * `repetition_penalty` and `ignore_eos`, as vLLM accepts them.
 */
import { randomBytes } from 'node:crypto';
import type { ChatMessage } from '../tokenizer/chat-template.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { QueueFullError } from '../infer/scheduler.js';
import type { SamplingOptions } from '../infer/sampler.js';
import { KolmError } from '../util/errors.js';
import type { Engine, Job, JobResult, TokenLogprob } from './engine.js';
import { anyObjectSchema, compileSchema, JsonGrammar, SchemaError, type SchemaNode } from './json-grammar.js';
import type { ServerMetrics } from './metrics.js';
import { ApiError, Fields, invalid } from './validate.js';
import { TOOL_CALL_OPEN, ToolCallExtractor, type ToolCall, type ToolCallDelta } from './tool-calls.js';

export interface Sse {
  send(data: unknown): void;
  end(): void;
}

export interface Context {
  engine: Engine;
  modelId: string;
  created: number;
  signal: AbortSignal;
  started: number;
  metrics: ServerMetrics;
  /** Start the event-stream response. */
  openStream(): Sse;
}

/** A JSON reply, or nothing when the handler streamed its answer itself. */
export type Reply = { status: number; body: unknown } | undefined;

const SAMPLING_FIELDS = ['temperature', 'top_p', 'top_k', 'min_p', 'repetition_penalty', 'presence_penalty', 'frequency_penalty', 'seed'];
const CHAT_FIELDS = [
  'model', 'messages', 'max_tokens', 'max_completion_tokens', 'stop', 'n', 'stream', 'stream_options', 'logprobs', 'top_logprobs', 'logit_bias',
  'tools', 'tool_choice', 'parallel_tool_calls', 'response_format', 'user', 'metadata', 'store', 'service_tier', 'modalities', 'ignore_eos',
  ...SAMPLING_FIELDS,
];
const COMPLETION_FIELDS = ['model', 'prompt', 'max_tokens', 'stop', 'n', 'best_of', 'stream', 'stream_options', 'logprobs', 'echo', 'suffix', 'logit_bias', 'user', 'ignore_eos', ...SAMPLING_FIELDS];
const MESSAGE_FIELDS = ['role', 'content', 'name', 'tool_calls', 'tool_call_id', 'refusal', 'function_call', 'audio', 'annotations'];
const NAME = /^[a-zA-Z0-9_-]{1,64}$/;

const id = (prefix: string) => `${prefix}-${randomBytes(12).toString('hex')}`;

// ---------------------------------------------------------------------------------------------------------------
// Shared parameters

interface Common {
  sampling: SamplingOptions;
  stop: string[];
  stream: boolean;
  includeUsage: boolean;
  logitBias: Map<number, number> | undefined;
  ignoreEos: boolean;
}

function checkModel(ctx: Context, f: Fields): void {
  const model = f.string('model', { required: true })!;
  if (model !== ctx.modelId) throw new ApiError(404, `The model '${model}' does not exist; this server serves '${ctx.modelId}'`, 'model', 'model_not_found');
}

function common(f: Fields, vocab: number): Common {
  const n = f.integer('n', { min: 1 });
  if (n !== undefined && n !== 1) throw invalid('n', 'Only n=1 is supported', 'unsupported_value');
  const streamOptions = f.object('stream_options');
  streamOptions?.only(['include_usage', 'continuous_usage_stats']);
  const stream = f.boolean('stream') ?? false;
  if (streamOptions && !stream) throw invalid('stream_options', "'stream_options' is only allowed when 'stream' is true", 'invalid_value');
  const stopRaw = f.raw('stop');
  let stop: string[] = [];
  if (typeof stopRaw === 'string') stop = [stopRaw];
  else if (Array.isArray(stopRaw)) stop = f.array('stop', { max: 16 })!.map((s, i) => {
    if (typeof s !== 'string') throw invalid(`stop[${i}]`, `Invalid type for 'stop[${i}]': expected a string`, 'invalid_type');
    return s;
  });
  else if (stopRaw !== undefined) throw invalid('stop', "Invalid type for 'stop': expected a string or an array of strings", 'invalid_type');
  stop.forEach((s, i) => {
    if (!s) throw invalid(Array.isArray(stopRaw) ? `stop[${i}]` : 'stop', 'Stop strings must not be empty', 'invalid_value');
  });
  let logitBias: Map<number, number> | undefined;
  const bias = f.object('logit_bias');
  if (bias) {
    logitBias = new Map();
    for (const [k, v] of Object.entries(bias.value)) {
      const tokenId = Number(k);
      if (!/^\d+$/.test(k) || tokenId >= vocab) throw invalid(`logit_bias.${k}`, `Invalid key in 'logit_bias': ${JSON.stringify(k)} is not a token id (0..${vocab - 1})`, 'invalid_value');
      logitBias.set(tokenId, bias.number(k, { min: -100, max: 100, required: true })!);
    }
  }
  const topK = f.integer('top_k', { min: -1 });
  const seed = f.integer('seed', { min: -(2 ** 53), max: 2 ** 53 });
  return {
    sampling: {
      temperature: f.number('temperature', { min: 0, max: 2 }) ?? 1,
      topP: f.number('top_p', { min: 0, max: 1 }),
      topK: topK !== undefined && topK > 0 ? topK : undefined,
      minP: f.number('min_p', { min: 0, max: 1 }),
      repetitionPenalty: f.number('repetition_penalty', { min: 0.01, max: 10 }),
      presencePenalty: f.number('presence_penalty', { min: -2, max: 2 }),
      frequencyPenalty: f.number('frequency_penalty', { min: -2, max: 2 }),
      seed: seed === undefined ? undefined : Math.abs(seed) % 2 ** 31,
    },
    stop,
    stream,
    includeUsage: streamOptions?.boolean('include_usage') ?? false,
    logitBias,
    ignoreEos: f.boolean('ignore_eos') ?? false,
  };
}

/** Context-length checks; returns the completion budget. */
function budget(ctx: Context, promptTokens: number, requested: number | undefined, param: string): number {
  const limit = ctx.engine.model.config.max_position_embeddings;
  if (promptTokens >= limit || (requested !== undefined && promptTokens + requested > limit)) {
    const asked = requested === undefined ? '' : `However, you requested ${promptTokens + requested} tokens (${promptTokens} in the ${param}, ${requested} in the completion). `;
    const over = requested === undefined ? `However, your ${param} resulted in ${promptTokens} tokens, leaving no room for a completion. ` : asked;
    throw new ApiError(400, `This model's maximum context length is ${limit} tokens. ${over}Please reduce the length of the ${param} or completion.`, param, 'context_length_exceeded');
  }
  return requested ?? limit - promptTokens;
}

function queueError(err: unknown): never {
  if (err instanceof QueueFullError) throw new ApiError(429, `The server is busy: ${err.message}. Retry shortly.`, null, 'queue_full', 'rate_limit_error', { 'retry-after': '1' });
  if (err instanceof KolmError) throw new ApiError(400, err.message, null, 'invalid_prompt');
  throw err;
}

function usage(r: { promptTokens: number; completionTokens: number }) {
  return { prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens, total_tokens: r.promptTokens + r.completionTokens };
}

/** How a client should see a token: its text, or `bytes:\xNN…` when it is not whole UTF-8. */
export function tokenText(tok: Tokenizer, tokenId: number): string {
  const bytes = tok.decodeBytes([tokenId]);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return 'bytes:' + [...bytes].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
  }
}

/** Runs a job, turning an abort by timeout into 504 and other aborts into "client gone". */
async function runJob(ctx: Context, job: Job): Promise<JobResult> {
  let result: JobResult;
  try {
    result = await ctx.engine.run({ ...job, signal: ctx.signal });
  } catch (err) {
    queueError(err);
  }
  ctx.metrics.promptTokens.inc({}, result.promptTokens);
  ctx.metrics.generationTokens.inc({}, result.completionTokens);
  if (result.firstTokenAt !== undefined) ctx.metrics.ttft.observe((result.firstTokenAt - ctx.started) / 1e3);
  if (result.finishReason === 'abort') {
    ctx.metrics.cancelled.inc();
    if (ctx.signal.reason === 'timeout') throw new ApiError(504, 'The request timed out before generation finished', null, 'timeout', 'timeout_error');
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// Chat

interface ToolSpec {
  name: string;
  parameters: unknown;
}

function parseMessages(f: Fields): ChatMessage[] {
  const list = f.array('messages', { required: true, nonEmpty: true })!;
  return list.map((raw, i) => {
    const m = Fields.of(raw, `messages[${i}]`);
    m.only(MESSAGE_FIELDS);
    const role = m.string('role', { required: true, oneOf: ['system', 'developer', 'user', 'assistant', 'tool'] })!;
    const content = messageContent(m);
    const out: ChatMessage = { role: role === 'developer' ? 'system' : role, content };
    const name = m.string('name');
    if (name !== undefined) out['name'] = name;
    if (role === 'assistant') {
      const calls = m.array('tool_calls');
      if (calls) {
        out.tool_calls = calls.map((c, j) => {
          const call = Fields.of(c, `messages[${i}].tool_calls[${j}]`);
          call.only(['id', 'type', 'function']);
          call.string('type', { oneOf: ['function'] });
          call.string('id');
          const fn = call.object('function', { required: true })!;
          fn.only(['name', 'arguments']);
          const fname = fn.string('name', { required: true })!;
          const args = fn.string('arguments') ?? '{}';
          // The template shows calls the way the model writes them: arguments as a JSON object.
          let parsed: unknown = args;
          try {
            const v = JSON.parse(args) as unknown;
            if (typeof v === 'object' && v !== null && !Array.isArray(v)) parsed = v;
          } catch {
            // keep the string
          }
          return { function: { name: fname, arguments: parsed } };
        });
      }
      if (content === null && !calls?.length) throw invalid(`messages[${i}].content`, `'messages[${i}].content' is required for assistant messages without tool_calls`, 'missing_required_parameter');
    } else {
      if (m.has('tool_calls')) throw invalid(`messages[${i}].tool_calls`, `'tool_calls' is only allowed in assistant messages`, 'invalid_value');
      if (content === null) throw invalid(`messages[${i}].content`, `Missing required parameter: 'messages[${i}].content'`, 'missing_required_parameter');
    }
    if (role === 'tool') m.string('tool_call_id');
    return out;
  });
}

function messageContent(m: Fields): string | null {
  const c = m.raw('content');
  if (c === undefined) return null;
  if (typeof c === 'string') return c;
  if (!Array.isArray(c)) throw invalid(m.name('content'), `Invalid type for '${m.name('content')}': expected a string or an array of content parts`, 'invalid_type');
  return c
    .map((part, j) => {
      const p = Fields.of(part, `${m.name('content')}[${j}]`);
      const type = p.string('type', { required: true })!;
      if (type !== 'text') throw invalid(p.name('type'), `Content part type '${type}' is not supported by this model (text only)`, 'unsupported_value');
      p.only(['type', 'text']);
      return p.string('text', { required: true, allowEmpty: true })!;
    })
    .join('\n');
}

function parseTools(f: Fields): ToolSpec[] | undefined {
  const tools = f.array('tools', { max: 128 });
  if (!tools) return undefined;
  const seen = new Set<string>();
  return tools.map((t, i) => {
    const tool = Fields.of(t, `tools[${i}]`);
    tool.only(['type', 'function']);
    tool.string('type', { required: true, oneOf: ['function'] });
    const fn = tool.object('function', { required: true })!;
    fn.only(['name', 'description', 'parameters', 'strict']);
    const name = fn.string('name', { required: true, pattern: NAME })!;
    if (seen.has(name)) throw invalid(`tools[${i}].function.name`, `Duplicate tool name '${name}'`, 'invalid_value');
    seen.add(name);
    fn.string('description', { allowEmpty: true });
    fn.boolean('strict');
    const parameters = fn.raw('parameters') ?? { type: 'object', properties: {} };
    if (typeof parameters !== 'object' || Array.isArray(parameters)) throw invalid(`tools[${i}].function.parameters`, `Invalid type for 'tools[${i}].function.parameters': expected an object (a JSON Schema)`, 'invalid_type');
    return { name, parameters };
  });
}

type ToolChoice = { mode: 'none' | 'auto' | 'required' } | { mode: 'named'; name: string };

function parseToolChoice(f: Fields, tools: ToolSpec[] | undefined): ToolChoice {
  const raw = f.raw('tool_choice');
  if (raw === undefined) return { mode: tools?.length ? 'auto' : 'none' };
  let choice: ToolChoice;
  if (typeof raw === 'string') {
    choice = { mode: f.string('tool_choice', { oneOf: ['none', 'auto', 'required'] }) as 'none' | 'auto' | 'required' };
  } else {
    const c = f.object('tool_choice')!;
    c.only(['type', 'function']);
    c.string('type', { required: true, oneOf: ['function'] });
    const fn = c.object('function', { required: true })!;
    fn.only(['name']);
    choice = { mode: 'named', name: fn.string('name', { required: true })! };
  }
  if (choice.mode !== 'none' && !tools?.length) throw invalid('tool_choice', "'tool_choice' is only allowed when 'tools' are specified", 'invalid_value');
  if (choice.mode === 'named' && !tools!.some((t) => t.name === (choice as { name: string }).name)) {
    throw invalid('tool_choice.function.name', `Tool '${choice.name}' is not among the tools provided`, 'invalid_value');
  }
  return choice;
}

function compileAt(schema: unknown, param: string): SchemaNode {
  try {
    return compileSchema(schema);
  } catch (err) {
    if (err instanceof SchemaError) throw invalid(param, `Invalid or unsupported JSON Schema in '${param}': ${err.message}`, 'invalid_schema');
    throw err;
  }
}

const utf8 = new TextEncoder();

/** One alternative per tool: `<tool_call>{"name": "NAME", "arguments": ` + arguments + `}</tool_call>`. */
function toolGrammar(tools: ToolSpec[], withOpenTag: boolean, lenient: boolean): JsonGrammar {
  return new JsonGrammar(
    tools.map((t, i) => {
      let node: SchemaNode;
      try {
        node = compileAt(t.parameters, `tools[${i}].function.parameters`);
      } catch (err) {
        if (!lenient) throw err;
        node = anyObjectSchema(); // free calls: an unsupported schema still gets well-formed JSON arguments
      }
      return {
        prefix: utf8.encode(`${withOpenTag ? TOOL_CALL_OPEN : ''}{"name": ${JSON.stringify(t.name)}, "arguments": `),
        node,
        suffix: utf8.encode('}</tool_call>'),
      };
    }),
  );
}

function parseResponseFormat(f: Fields): JsonGrammar | undefined {
  const rf = f.object('response_format');
  if (!rf) return undefined;
  const type = rf.string('type', { required: true, oneOf: ['text', 'json_object', 'json_schema'] });
  if (type === 'text') {
    rf.only(['type']);
    return undefined;
  }
  if (type === 'json_object') {
    rf.only(['type']);
    return JsonGrammar.forSchema(anyObjectSchema());
  }
  rf.only(['type', 'json_schema']);
  const js = rf.object('json_schema', { required: true })!;
  js.only(['name', 'description', 'schema', 'strict']);
  js.string('name', { required: true, pattern: NAME });
  js.string('description', { allowEmpty: true });
  js.boolean('strict');
  const schema = js.raw('schema') ?? true;
  if (typeof schema !== 'object' && typeof schema !== 'boolean') throw invalid('response_format.json_schema.schema', "Invalid type for 'response_format.json_schema.schema': expected an object", 'invalid_type');
  return JsonGrammar.forSchema(compileAt(schema, 'response_format.json_schema.schema'));
}

/**
 * Prompt ids of a conversation. Message contents are encoded as plain text (special-token strings inside them stay
 * text), the template around them with special tokens recognised.
 */
export function encodeChat(tok: Tokenizer, messages: readonly ChatMessage[], tools?: unknown[]): number[] {
  const contents: string[] = [];
  const marked = messages.map((m) => (typeof m.content === 'string' && m.content ? { ...m, content: `\u{F0000}${contents.push(m.content) - 1}\u{F0001}` } : m));
  const rendered = tok.renderChat(marked, { addGenerationPrompt: true, tools });
  const ids: number[] = [];
  let last = 0;
  let expect = 0;
  for (const m of rendered.matchAll(/\u{F0000}(\d+)\u{F0001}/gu)) {
    const index = Number(m[1]);
    if (index !== expect++) return tok.encode(tok.renderChat(messages, { addGenerationPrompt: true, tools }), { allowSpecial: true });
    ids.push(...tok.encode(rendered.slice(last, m.index), { allowSpecial: true }), ...tok.encode(contents[index]!));
    last = m.index! + m[0].length;
  }
  if (expect !== contents.length) return tok.encode(tok.renderChat(messages, { addGenerationPrompt: true, tools }), { allowSpecial: true });
  ids.push(...tok.encode(rendered.slice(last), { allowSpecial: true }));
  return ids;
}

function chatLogprob(tok: Tokenizer, l: TokenLogprob) {
  const entry = (tokenId: number, logprob: number) => ({ token: tokenText(tok, tokenId), logprob, bytes: [...tok.decodeBytes([tokenId])] });
  return { ...entry(l.id, l.logprob), top_logprobs: l.top.map((t) => entry(t.id, t.logprob)) };
}

export async function chatCompletions(ctx: Context, body: unknown): Promise<Reply> {
  const f = Fields.of(body, '');
  f.only(CHAT_FIELDS);
  checkModel(ctx, f);
  const tok = ctx.engine.model.tokenizer;
  const messages = parseMessages(f);
  const params = common(f, ctx.engine.model.config.vocab_size);
  const maxTokens = f.integer('max_completion_tokens', { min: 1 }) ?? f.integer('max_tokens', { min: 1 });
  const logprobs = f.boolean('logprobs') ?? false;
  const topLogprobs = f.integer('top_logprobs', { min: 0, max: 20 });
  if (topLogprobs !== undefined && !logprobs) throw invalid('top_logprobs', "'top_logprobs' requires 'logprobs' to be true", 'invalid_value');
  const tools = parseTools(f);
  const choice = parseToolChoice(f, tools);
  const parallel = f.boolean('parallel_tool_calls') ?? true;
  f.string('user', { allowEmpty: true });
  f.object('metadata');
  f.boolean('store');
  f.string('service_tier');
  const modalities = f.array('modalities');
  if (modalities && modalities.some((m) => m !== 'text')) throw invalid('modalities', "Only the 'text' modality is supported", 'unsupported_value');
  const format = parseResponseFormat(f);
  if (format && (choice.mode === 'required' || choice.mode === 'named')) {
    throw invalid('response_format', "'response_format' cannot be combined with a 'tool_choice' that forces a tool call", 'invalid_value');
  }

  const activeTools = choice.mode === 'none' ? undefined : tools;
  const prompt = encodeChat(tok, messages, activeTools?.map((t, i) => (f.raw('tools') as unknown[])[i]));
  const limit = budget(ctx, prompt.length, maxTokens, 'messages');
  let grammar = format;
  let lazyGrammar: Job['lazyGrammar'];
  if (choice.mode === 'required') grammar = toolGrammar(activeTools!, true, false);
  else if (choice.mode === 'named') grammar = toolGrammar(activeTools!.filter((t) => t.name === choice.name), true, false);
  else if (choice.mode === 'auto' && !format) lazyGrammar = { trigger: TOOL_CALL_OPEN, grammar: toolGrammar(activeTools!, false, true), once: !parallel };
  if (grammar) {
    const needed = ctx.engine.matcher(grammar).tokensToFinish;
    if (needed > limit) throw invalid(maxTokens === undefined ? 'messages' : 'max_tokens', `The completion budget (${limit} tokens) is too small for the required output format, which needs at least ${needed} tokens`, 'budget_too_small');
  }
  const splitCalls = activeTools !== undefined && !format;
  const toolNames = new Set(splitCalls ? activeTools!.map((t) => t.name) : []);

  const completionId = id('chatcmpl');
  const job: Job = {
    prompt,
    maxTokens: limit,
    sampling: params.sampling,
    stop: params.stop,
    ignoreEos: params.ignoreEos,
    logitBias: params.logitBias,
    logprobs: logprobs ? (topLogprobs ?? 0) : undefined,
    grammar,
    lazyGrammar,
  };
  const finishOf = (r: JobResult, calls: number) => (r.finishReason === 'length' ? 'length' : calls > 0 ? 'tool_calls' : 'stop');

  if (!params.stream) {
    const extractor = splitCalls ? new ToolCallExtractor(toolNames) : undefined;
    const r = await runJob(ctx, job);
    let content = r.text;
    let calls: ToolCall[] = [];
    if (extractor) {
      extractor.push(r.text);
      extractor.finish();
      content = extractor.text;
      calls = extractor.calls;
    }
    const message: Record<string, unknown> = { role: 'assistant', content: calls.length && !content ? null : content, refusal: null };
    if (calls.length) message['tool_calls'] = calls;
    return {
      status: 200,
      body: {
        id: completionId,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: ctx.modelId,
        system_fingerprint: fingerprint(ctx),
        choices: [{ index: 0, message, logprobs: logprobs ? { content: r.logprobs.map((l) => chatLogprob(tok, l)), refusal: null } : null, finish_reason: finishOf(r, calls.length) }],
        usage: usage(r),
      },
    };
  }

  const sse = ctx.openStream();
  const created = Math.floor(Date.now() / 1000);
  const chunk = (delta: Record<string, unknown>, finish: string | null, lp?: TokenLogprob[]) => ({
    id: completionId,
    object: 'chat.completion.chunk',
    created,
    model: ctx.modelId,
    system_fingerprint: fingerprint(ctx),
    choices: [{ index: 0, delta, logprobs: lp ? { content: lp.map((l) => chatLogprob(tok, l)), refusal: null } : null, finish_reason: finish }],
  });
  sse.send(chunk({ role: 'assistant', content: '', refusal: null }, null));
  const extractor = splitCalls ? new ToolCallExtractor(toolNames) : undefined;
  let callCount = 0;
  // Log-probabilities ride on the next chunk that carries text or a call (text can be held back a while).
  let pending: TokenLogprob[] = [];
  const flush = (out: { content: string; calls: ToolCallDelta[] }, lps: TokenLogprob[], final: boolean) => {
    pending.push(...lps);
    callCount += out.calls.filter((c) => c.id !== undefined).length;
    const take = () => {
      const lp = logprobs ? pending : undefined;
      pending = [];
      return lp;
    };
    if (out.content) sse.send(chunk({ content: out.content }, null, take()));
    if (out.calls.length) sse.send(chunk({ tool_calls: out.calls }, null, take()));
    if (final && logprobs && pending.length) sse.send(chunk({}, null, take()));
  };
  let result: JobResult;
  try {
    result = await runJob(ctx, {
      ...job,
      onDelta: (text, _tokens, lps) => flush(extractor && text ? extractor.push(text) : { content: text, calls: [] }, lps, false),
    });
  } catch (err) {
    sendStreamError(sse, err);
    return undefined;
  }
  if (result.finishReason === 'abort') return undefined; // the client went away
  flush(extractor ? extractor.finish() : { content: '', calls: [] }, [], true);
  sse.send(chunk({}, finishOf(result, callCount)));
  if (params.includeUsage) sse.send({ id: completionId, object: 'chat.completion.chunk', created, model: ctx.modelId, system_fingerprint: fingerprint(ctx), choices: [], usage: usage(result) });
  sse.end();
  return undefined;
}

function sendStreamError(sse: Sse, err: unknown): void {
  const e = err instanceof ApiError ? err : new ApiError(500, err instanceof Error ? err.message : String(err));
  sse.send(e.toJSON());
  sse.end();
}

function fingerprint(ctx: Context): string {
  return `kolm-${ctx.engine.model.tokenizer.hash.slice(0, 10)}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Completions

function parsePrompts(f: Fields, tok: Tokenizer, vocab: number): number[][] {
  const raw = f.raw('prompt');
  if (raw === undefined) throw invalid('prompt', "Missing required parameter: 'prompt'", 'missing_required_parameter');
  const tokens = (v: unknown[], param: string) =>
    v.map((x, i) => {
      if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x >= vocab) throw invalid(`${param}[${i}]`, `Invalid token id in '${param}[${i}]': ${JSON.stringify(x)} (the vocabulary is 0..${vocab - 1})`, 'invalid_value');
      return x;
    });
  let prompts: number[][];
  if (typeof raw === 'string') prompts = [tok.encode(raw, { allowSpecial: true })];
  else if (Array.isArray(raw) && raw.length && raw.every((x) => typeof x === 'number')) prompts = [tokens(raw, 'prompt')];
  else if (Array.isArray(raw) && raw.length) {
    prompts = raw.map((p, i) => {
      if (typeof p === 'string') return tok.encode(p, { allowSpecial: true });
      if (Array.isArray(p)) return tokens(p, `prompt[${i}]`);
      throw invalid(`prompt[${i}]`, `Invalid type for 'prompt[${i}]': expected a string or an array of token ids`, 'invalid_type');
    });
  } else throw invalid('prompt', "Invalid type for 'prompt': expected a string, an array of strings, an array of token ids or an array of such arrays (non-empty)", 'invalid_type');
  if (prompts.length > 256) throw invalid('prompt', 'At most 256 prompts per request', 'array_above_max_length');
  prompts.forEach((p, i) => {
    if (p.length === 0) throw invalid(prompts.length > 1 ? `prompt[${i}]` : 'prompt', 'The prompt is empty', 'invalid_value');
  });
  return prompts;
}

/** `fn` over every item with at most `limit` running at once; results in order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

interface LegacyLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
}

export async function completions(ctx: Context, body: unknown): Promise<Reply> {
  const f = Fields.of(body, '');
  f.only(COMPLETION_FIELDS);
  checkModel(ctx, f);
  const tok = ctx.engine.model.tokenizer;
  const vocab = ctx.engine.model.config.vocab_size;
  const prompts = parsePrompts(f, tok, vocab);
  const params = common(f, vocab);
  const maxTokens = f.integer('max_tokens', { min: 0 }) ?? 16;
  const echo = f.boolean('echo') ?? false;
  const logprobs = f.integer('logprobs', { min: 0, max: 20 });
  const bestOf = f.integer('best_of', { min: 1 });
  if (bestOf !== undefined && bestOf !== 1) throw invalid('best_of', 'Only best_of=1 is supported', 'unsupported_value');
  if (f.has('suffix')) throw invalid('suffix', "'suffix' is not supported by this model", 'unsupported_value');
  f.string('user', { allowEmpty: true });
  if (params.stream && echo && logprobs !== undefined) throw invalid('echo', "'echo' with 'logprobs' is not supported when streaming", 'unsupported_value');
  const limits = prompts.map((p, i) => (maxTokens === 0 && p.length <= ctx.engine.model.config.max_position_embeddings ? 0 : budget(ctx, p.length, maxTokens, prompts.length > 1 ? `prompt[${i}]` : 'prompt')));
  const completionId = id('cmpl');
  const created = Math.floor(Date.now() / 1000);

  const legacy = (ids: number[], lps: { logprob: number; top: { id: number; logprob: number }[] }[] | undefined, offset: number, first: boolean): LegacyLogprobs => {
    const out: LegacyLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
    const decoder = new TextDecoder();
    let at = offset;
    ids.forEach((tokenId, i) => {
      out.tokens.push(tokenText(tok, tokenId));
      out.text_offset.push(at);
      at += decoder.decode(tok.decodeBytes([tokenId]), { stream: true }).length;
      const lp = first ? (i === 0 ? undefined : lps?.[i - 1]) : lps?.[i];
      out.token_logprobs.push(lp ? lp.logprob : null);
      out.top_logprobs.push(lp ? Object.fromEntries(lp.top.map((t) => [tokenText(tok, t.id), t.logprob])) : null);
    });
    return out;
  };

  // A request's prompts run at most a batch at a time, so a long list (lm-eval batches) never fills the queue itself.
  const inFlight = ctx.engine.scheduler.capacity.maxBatch;
  if (!params.stream) {
    const results = await mapLimited(prompts, inFlight, async (prompt, index) => {
      const scored = echo && logprobs !== undefined ? await ctx.engine.scoreTokens(prompt, logprobs) : undefined;
      const r: JobResult = limits[index] === 0
        ? { text: '', ids: [], finishReason: 'length', promptTokens: prompt.length, completionTokens: 0, logprobs: [], firstTokenAt: undefined }
        : await runJob(ctx, { prompt, maxTokens: limits[index]!, sampling: params.sampling, stop: params.stop, ignoreEos: params.ignoreEos, logitBias: params.logitBias, logprobs });
      if (limits[index] === 0) ctx.metrics.promptTokens.inc({}, prompt.length);
      const promptText = echo ? tok.decode(prompt) : '';
      let lp: LegacyLogprobs | null = null;
      if (logprobs !== undefined) {
        const gen = legacy(r.ids, r.logprobs, promptText.length, false);
        if (echo) {
          const head = legacy(prompt, scored, 0, true);
          lp = { tokens: [...head.tokens, ...gen.tokens], token_logprobs: [...head.token_logprobs, ...gen.token_logprobs], top_logprobs: [...head.top_logprobs, ...gen.top_logprobs], text_offset: [...head.text_offset, ...gen.text_offset] };
        } else lp = gen;
      }
      return { r, choice: { index, text: promptText + r.text, logprobs: lp, finish_reason: r.finishReason === 'length' ? 'length' : 'stop' } };
    });
    const total = results.reduce((a, { r }) => ({ promptTokens: a.promptTokens + r.promptTokens, completionTokens: a.completionTokens + r.completionTokens }), { promptTokens: 0, completionTokens: 0 });
    return { status: 200, body: { id: completionId, object: 'text_completion', created, model: ctx.modelId, system_fingerprint: fingerprint(ctx), choices: results.map((x) => x.choice), usage: usage(total) } };
  }

  const sse = ctx.openStream();
  const chunk = (index: number, text: string, finish: string | null, lp: LegacyLogprobs | null = null) => ({
    id: completionId, object: 'text_completion', created, model: ctx.modelId, system_fingerprint: fingerprint(ctx),
    choices: [{ index, text, logprobs: lp, finish_reason: finish }],
  });
  let results: JobResult[];
  try {
    results = await mapLimited(prompts, inFlight, async (prompt, index) => {
      const promptText = echo ? tok.decode(prompt) : '';
      if (promptText) sse.send(chunk(index, promptText, null));
      if (limits[index] === 0) {
        ctx.metrics.promptTokens.inc({}, prompt.length);
        sse.send(chunk(index, '', 'length'));
        return { text: '', ids: [], finishReason: 'length', promptTokens: prompt.length, completionTokens: 0, logprobs: [], firstTokenAt: undefined } satisfies JobResult;
      }
      let offset = promptText.length;
      const r = await runJob(ctx, {
        prompt, maxTokens: limits[index]!, sampling: params.sampling, stop: params.stop, ignoreEos: params.ignoreEos, logitBias: params.logitBias, logprobs,
        onDelta: (text, tokens, lps) => {
          const lp = logprobs === undefined ? null : legacy(tokens, lps, offset, false);
          offset += text.length;
          if (text || lp) sse.send(chunk(index, text, null, lp));
        },
        });
        if (r.finishReason !== 'abort') sse.send(chunk(index, '', r.finishReason === 'length' ? 'length' : 'stop'));
        return r;
    });
  } catch (err) {
    sendStreamError(sse, err);
    return undefined;
  }
  if (results.some((r) => r.finishReason === 'abort')) return undefined;
  if (params.includeUsage) {
    const total = results.reduce((a, r) => ({ promptTokens: a.promptTokens + r.promptTokens, completionTokens: a.completionTokens + r.completionTokens }), { promptTokens: 0, completionTokens: 0 });
    sse.send({ id: completionId, object: 'text_completion', created, model: ctx.modelId, choices: [], usage: usage(total) });
  }
  sse.end();
  return undefined;
}

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
  f.only(['model', 'prompt', 'messages', 'tools', 'add_special_tokens', 'add_generation_prompt', 'return_token_strs']);
  if (f.has('model')) checkModel(ctx, f);
  f.boolean('add_special_tokens');
  f.boolean('add_generation_prompt');
  const tok = ctx.engine.model.tokenizer;
  let tokens: number[];
  if (f.has('messages')) {
    if (f.has('prompt')) throw invalid('prompt', "Give either 'prompt' or 'messages', not both", 'invalid_value');
    const tools = parseTools(f);
    tokens = encodeChat(tok, parseMessages(f), tools ? (f.raw('tools') as unknown[]) : undefined);
  } else {
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
