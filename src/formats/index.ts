/** File formats below the model: safetensors (HF folders) and GGUF (llama.cpp) readers and writers. */
export {
  readSafetensors,
  readSafetensorsHeader,
  writeSafetensors,
  MAX_HEADER_BYTES as SAFETENSORS_MAX_HEADER_BYTES,
  type StDType,
  type StTensor,
  type StHeader,
  type StHeaderEntry,
} from './safetensors.js';
export * from './gguf/index.js';
export { f32ToF16Bits, f16BitsToF32 } from './half.js';
