/** `/v1/chat/completions`: the request, the response, and the streamed chunks (text, tool call deltas, usage). */
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { Job, JobResult, TokenLogprob } from './engine.js';
import { Fields, invalid } from './validate.js';
import { TOOL_CALL_OPEN, ToolCallExtractor, type ToolCall, type ToolCallDelta } from './tool-calls.js';
import { budget, checkModel, common, fingerprint, id, runJob, SAMPLING_FIELDS, sendStreamError, tokenText, usage, type Context, type Reply } from './protocol.js';
import { encodeChat, parseMessages, parseResponseFormat, parseTemplateKwargs, parseToolChoice, parseTools, toolGrammar } from './chat-request.js';

const CHAT_FIELDS = [
  'model', 'messages', 'max_tokens', 'max_completion_tokens', 'stop', 'n', 'stream', 'stream_options', 'logprobs', 'top_logprobs', 'logit_bias',
  'tools', 'tool_choice', 'parallel_tool_calls', 'response_format', 'user', 'metadata', 'store', 'service_tier', 'modalities', 'ignore_eos', 'chat_template_kwargs',
  ...SAMPLING_FIELDS,
];

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
  const kwargs = parseTemplateKwargs(f, ctx.chatTemplateKwargs);
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
  // The template lists the tools as the request wrote them (descriptions included), not as parsed.
  const prompt = encodeChat(tok, messages, { tools: activeTools?.map((_, i) => (f.raw('tools') as unknown[])[i]), kwargs });
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
