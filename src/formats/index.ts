/** Model file formats: safetensors (HF folders) and GGUF (llama.cpp). */
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
export {
  exportGguf,
  importGguf,
  assertLlamaExpressible,
  GGUF_EXPORT_TYPES,
  GGUF_PRE_TOKENIZER,
  type GgufExportType,
  type GgufExportOptions,
  type GgufExportSummary,
  type GgufImportSummary,
} from './gguf-model.js';
export { exportOnnxFolder, exportTransformersJsOnnx, buildTransformersJsGraph, type OnnxExportFolderOptions, type OnnxExportSummary } from './onnx-model.js';
