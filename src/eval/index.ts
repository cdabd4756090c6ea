/** The evaluation harness's public API. */
export { evaluate, pooledStderr, type EvaluateOptions, type EvalResults, type TaskResult } from './evaluator.js';
export { TaskIndex, builtinTaskDir, validateTask, validateGroup, loadWithIncludes, FunctionRef, type TaskConfig, type GroupConfig, type TaskEntry } from './config.js';
export { Task } from './task.js';
export type { Backend, LoglikelihoodRequest, LoglikelihoodResult, GenerationRequest } from './backend.js';
export { encodePair, encodeRequest, rollingWindows } from './backend.js';
export { KolmBackend, type KolmBackendOptions } from './backend-kolm.js';
export { OpenAICompletionsBackend, type OpenAIBackendOptions } from './backend-openai.js';
export { scoreTokens, type TokenRequest, type TokenScore } from './loglik.js';
export { AGGREGATIONS, aggregate, bootstrapStderr, exactMatch, macroF1, binaryF1, matthewsCorrcoef, meanStderr, passAtK, pyRegex } from './metrics.js';
export { corpusBleu, sentenceBleu, corpusChrf, sentenceChrf, tokenize13a, tokenizeIntl, computeBleu } from './sacrebleu.js';
export { runProgram, sandboxInfo, type SandboxOptions, type RunResult } from './sandbox.js';
export { isToxic, lexiconSummary, preferenceAuc } from './safety.js';
export { isRefusal, REFUSAL_PATTERNS } from '../text/refusal.js';
export { renderReport, loadResults, mergeRuns, type ReportRun } from './report.js';
export { PyRandom } from './pyrandom.js';
