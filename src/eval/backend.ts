/**
 * What an evaluated model must answer, in lm-eval's three request types. Token-level plumbing shared by backends
 * that have a tokenizer: lm-eval's context/continuation split (trailing context whitespace moves to the
 * continuation; the pair is encoded whole and split at the context's length) and its rolling windows for perplexity.
 */
export interface LoglikelihoodRequest {
  context: string;
  continuation: string;
}

export interface LoglikelihoodResult {
  /** Sum of the continuation tokens' log-probabilities. */
  logprob: number;
  /** Whether every continuation token is the argmax given its prefix. */
  isGreedy: boolean;
}

export interface GenerationRequest {
  context: string;
  until: string[];
  maxGenToks: number;
  temperature: number;
  topP?: number;
  seed?: number;
}

export interface Progress {
  (done: number): void;
}

export interface Backend {
  /** Shown in results and reports. */
  readonly name: string;
  /** Model facts for the results header (path/URL, parameters, context length, …). */
  readonly info: Record<string, unknown>;
  loglikelihood(requests: readonly LoglikelihoodRequest[], progress?: Progress): Promise<LoglikelihoodResult[]>;
  /** Total log-likelihood of each text, scored in disjoint rolling windows of the context length. */
  loglikelihoodRolling(texts: readonly string[], progress?: Progress): Promise<number[]>;
  generateUntil(requests: readonly GenerationRequest[], progress?: Progress): Promise<string[]>;
  close?(): Promise<void>;
}

export interface TokenCodec {
  encode(text: string): number[];
}

/** lm-eval's TemplateLM._encode_pair for causal models. */
export function encodePair(tok: TokenCodec, context: string, continuation: string): [number[], number[]] {
  const nSpaces = context.length - context.trimEnd().length;
  if (nSpaces > 0) {
    continuation = context.slice(context.length - nSpaces) + continuation;
    context = context.slice(0, context.length - nSpaces);
  }
  const whole = tok.encode(context + continuation);
  const ctx = tok.encode(context);
  return [ctx, whole.slice(ctx.length)];
}

/** lm-eval's loglikelihood tokenisation: an empty context conditions on the prefix (BOS/EOS) token. */
export function encodeRequest(tok: TokenCodec, prefixToken: number, req: LoglikelihoodRequest): [number[], number[]] {
  if (req.context === '') {
    const cont = tok.encode(req.continuation);
    return cont[0] !== prefixToken ? [[prefixToken], cont] : [cont.slice(0, 1), cont.slice(1)];
  }
  return encodePair(tok, req.context, req.continuation);
}

/** lm-eval's get_rolling_token_windows + make_disjoint_window (context_len = 1). */
export function rollingWindows(tokens: readonly number[], prefixToken: number, maxSeqLen: number): [number[], number[]][] {
  const out: [number[], number[]][] = [];
  if (!tokens.length) return out;
  const contextLen = 1;
  const predLen = maxSeqLen - contextLen + 1;
  let predicted = 0;
  const firstLen = Math.min(maxSeqLen, tokens.length);
  out.push([[prefixToken, ...tokens.slice(0, firstLen - 1)], tokens.slice(0, firstLen)]);
  predicted += firstLen;
  while (predicted < tokens.length) {
    const windowPredLen = Math.min(tokens.length - predicted, predLen);
    const windowEnd = predicted + windowPredLen;
    const start = windowEnd - maxSeqLen - 1;
    out.push([tokens.slice(Math.max(0, start), windowEnd - 1), tokens.slice(windowEnd - windowPredLen, windowEnd)]);
    predicted += windowPredLen;
  }
  return out.map(([a, b]) => [a.slice(0, a.length - (b.length - 1)), b]);
}

/**
 * The prompt tokens kept for generation. lm-eval cuts every prompt to max_length − max_gen_toks; with the short
 * contexts of small models (and max_gen_toks 1024 for HumanEval) that would leave nothing, so kolm keeps a prompt
 * that fits and lets the generation budget shrink instead, cutting from the left only when the prompt itself leaves
 * less than min(max_gen_toks, half the context) free.
 */
export function truncateForGeneration(ids: readonly number[], maxGenToks: number, maxLength: number): number[] {
  const reserve = Math.max(1, Math.min(maxGenToks, Math.floor(maxLength / 2)));
  const keep = maxLength - reserve;
  return ids.length > keep ? ids.slice(ids.length - keep) : [...ids];
}
