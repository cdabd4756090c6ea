/**
 * Constrained decoding for JSON: a JSON Schema (the subset below) compiles to a byte-level pushdown recogniser whose
 * states are immutable, so every vocabulary token can be tried from the current state by walking a byte trie of the
 * vocabulary. Tokens that would break the syntax or the schema are masked before sampling, and so are tokens after
 * which the shortest valid completion no longer fits the remaining token budget. Every byte is a token of a
 * byte-level vocabulary, so a completion always exists: the output parses and validates even from a random model.
 *
 * Schema subset: `type` (one or several), `enum`, `const`, `properties` + `required` (keys are produced in the order
 * `properties` lists them; additional keys are never produced, which every `additionalProperties` allows), objects
 * without `properties` (free keys; values follow `additionalProperties` when it is a schema), `items`, `minItems`,
 * `maxItems`, `minLength`, `maxLength`, `anyOf` / `oneOf` whose branches start differently (object, array, string,
 * number, true/false/null), `$ref` to `#/$defs/…` or `#/definitions/…` (not recursive), and annotations (`title`,
 * `description`, `default`, `examples`, `$schema`, `$id`, `$comment`, `deprecated`, `readOnly`, `writeOnly`,
 * `strict`). Any other keyword is refused with its path rather than ignored, so whatever is accepted is enforced.
 *
 * Output form: strings never contain escaped surrogates, numbers have at most 2 exponent digits, and whitespace
 * between tokens of a nested value is limited to runs of 8 bytes (none around the top-level value).
 *
 * In parts: json-schema.ts compiles the schema, json-recogniser.ts (with its frames in json-frames.ts) reads bytes,
 * json-matcher.ts masks tokens.
 */
export { anyObjectSchema, compileSchema, SchemaError, type SchemaNode } from './json-schema.js';
export { type GrammarState } from './json-frames.js';
export { JsonGrammar } from './json-recogniser.js';
export { GrammarMatcher, TokenTrie } from './json-matcher.js';
