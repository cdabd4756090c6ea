/**
 * Special tokens. They take the ids right after the BPE vocabulary (bytes 0–255, then merges in order), in the order
 * listed here, so adding one never renumbers ordinary tokens. They are never produced from ordinary text: `encode`
 * only recognises them when asked (`allowSpecial`).
 */
export const SPECIAL_TOKENS = {
  endOfText: '<|endoftext|>',
  pad: '<|pad|>',
  imStart: '<|im_start|>',
  imEnd: '<|im_end|>',
  endOfTurn: '<|endofturn|>',
  stop: '<|stop|>',
  fimPrefix: '<|fim_prefix|>',
  fimMiddle: '<|fim_middle|>',
  fimSuffix: '<|fim_suffix|>',
} as const;

export const DEFAULT_SPECIAL_TOKENS: readonly string[] = Object.values(SPECIAL_TOKENS);
