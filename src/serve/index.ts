/** OpenAI-compatible serving: the HTTP server, its engine (continuous batching) and constrained decoding. */
export { KolmServer, serve, webDir, type ServeOptions } from './server.js';
export { Engine, type Job, type JobResult, type TokenLogprob } from './engine.js';
export { compileSchema, anyObjectSchema, JsonGrammar, GrammarMatcher, TokenTrie, SchemaError, type SchemaNode, type GrammarState } from './json-grammar.js';
export { ToolCallExtractor, extractToolCalls, parseCall, TOOL_CALL_OPEN, TOOL_CALL_CLOSE, type ToolCall, type ToolCallDelta } from './tool-calls.js';
export { encodeChat, tokenText } from './openai.js';
export { ApiError } from './validate.js';
