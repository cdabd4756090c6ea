/** Exporters and importers that need the model: GGUF for llama.cpp, ONNX for transformers.js. */
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
} from './gguf.js';
export { exportOnnxFolder, exportTransformersJsOnnx, buildTransformersJsGraph, type OnnxExportFolderOptions, type OnnxExportSummary } from './onnx.js';
