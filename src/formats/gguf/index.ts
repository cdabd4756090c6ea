/** GGUF v3 (llama.cpp's model file): reader, writer, Q8_0, and the HF Llama ↔ GGUF naming and layout rules. */
export { readGguf, GGUF_MAX_HEADER_BYTES, type GgufFile, type GgufTensorInfo } from './reader.js';
export { writeGguf, type GgufWriteInput, type GgufWriteTensor } from './writer.js';
export { quantizeQ8_0, dequantizeQ8_0, QK8_0, Q8_0_BLOCK_BYTES } from './quant.js';
export {
  hfToGgufName,
  ggufToHfName,
  hfShapeToGguf,
  ggufShapeToHf,
  permuteForGguf,
  unpermuteFromGguf,
  type DenseTensor,
} from './names.js';
export {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_VERSION,
  GGML_TYPES_BY_ID,
  GGML_TYPES_BY_NAME,
  type GgufValue,
  type GgufValueType,
  type GgufWriteType,
  type GgmlTypeInfo,
} from './types.js';
