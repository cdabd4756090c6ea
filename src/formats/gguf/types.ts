/**
 * GGUF v3 vocabulary (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md): metadata value types, ggml tensor
 * types with their block geometry, and the limits llama.cpp's own loader enforces, so a file kolm accepts is one
 * llama.cpp accepts too.
 */

export const GGUF_MAGIC = 'GGUF';
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** ggml's GGML_MAX_DIMS. */
export const GGUF_MAX_DIMS = 4;
/** ggml's GGML_MAX_NAME is 64 including the terminating NUL, so names are at most 63 bytes. */
export const GGUF_MAX_TENSOR_NAME_BYTES = 63;
export const GGUF_MAX_KEY_BYTES = 65535;
/** ggml's GGML_QNT_VERSION: written as general.quantization_version whenever a tensor is quantized. */
export const GGML_QUANTIZATION_VERSION = 2;

/** Metadata value types, in the order of their numeric ids (gguf_metadata_value_type). */
export const GGUF_VALUE_TYPES = [
  'uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'bool', 'string', 'array', 'uint64', 'int64', 'float64',
] as const;
export type GgufValueType = (typeof GGUF_VALUE_TYPES)[number];
export type GgufScalarType = Exclude<GgufValueType, 'array'>;
export type GgufNumberType = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64';
export type GgufBigIntType = 'uint64' | 'int64';

/** A typed metadata value: the type travels with the value, since llama.cpp reads keys with a fixed expected type. */
export type GgufValue =
  | { type: GgufNumberType; value: number }
  | { type: GgufBigIntType; value: bigint }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; itemType: GgufNumberType; value: number[] }
  | { type: 'array'; itemType: GgufBigIntType; value: bigint[] }
  | { type: 'array'; itemType: 'bool'; value: boolean[] }
  | { type: 'array'; itemType: 'string'; value: string[] };

/** Encoded size of fixed-width scalars; strings are 8 bytes of length plus their bytes. */
export const SCALAR_BYTES: Record<Exclude<GgufScalarType, 'string'>, number> = {
  uint8: 1, int8: 1, bool: 1, uint16: 2, int16: 2, uint32: 4, int32: 4, float32: 4, uint64: 8, int64: 8, float64: 8,
};

/** Inclusive integer ranges of the number-valued integer types. */
export const INT_RANGES: Partial<Record<GgufNumberType, [number, number]>> = {
  uint8: [0, 0xff], int8: [-0x80, 0x7f], uint16: [0, 0xffff], int16: [-0x8000, 0x7fff],
  uint32: [0, 0xffffffff], int32: [-0x80000000, 0x7fffffff],
};

export const BIGINT_RANGES: Record<GgufBigIntType, [bigint, bigint]> = {
  uint64: [0n, 0xffffffffffffffffn],
  int64: [-0x8000000000000000n, 0x7fffffffffffffffn],
};

export interface GgmlTypeInfo {
  id: number;
  name: string;
  /** Elements per block (1 for plain types). */
  blockElems: number;
  /** Bytes per block. */
  blockBytes: number;
}

/** Every tensor type a GGUF file may carry today (ggml_type), so headers of any llama.cpp file validate. */
const GGML_TYPE_LIST: Array<[number, string, number, number]> = [
  [0, 'F32', 1, 4], [1, 'F16', 1, 2], [2, 'Q4_0', 32, 18], [3, 'Q4_1', 32, 20], [6, 'Q5_0', 32, 22],
  [7, 'Q5_1', 32, 24], [8, 'Q8_0', 32, 34], [9, 'Q8_1', 32, 36], [10, 'Q2_K', 256, 84], [11, 'Q3_K', 256, 110],
  [12, 'Q4_K', 256, 144], [13, 'Q5_K', 256, 176], [14, 'Q6_K', 256, 210], [15, 'Q8_K', 256, 292],
  [16, 'IQ2_XXS', 256, 66], [17, 'IQ2_XS', 256, 74], [18, 'IQ3_XXS', 256, 98], [19, 'IQ1_S', 256, 50],
  [20, 'IQ4_NL', 32, 18], [21, 'IQ3_S', 256, 110], [22, 'IQ2_S', 256, 82], [23, 'IQ4_XS', 256, 136],
  [24, 'I8', 1, 1], [25, 'I16', 1, 2], [26, 'I32', 1, 4], [27, 'I64', 1, 8], [28, 'F64', 1, 8],
  [29, 'IQ1_M', 256, 56], [30, 'BF16', 1, 2], [34, 'TQ1_0', 256, 54], [35, 'TQ2_0', 256, 66], [39, 'MXFP4', 32, 17],
];

export const GGML_TYPES_BY_ID = new Map<number, GgmlTypeInfo>(
  GGML_TYPE_LIST.map(([id, name, blockElems, blockBytes]) => [id, { id, name, blockElems, blockBytes }]),
);
export const GGML_TYPES_BY_NAME = new Map<string, GgmlTypeInfo>([...GGML_TYPES_BY_ID.values()].map((t) => [t.name, t]));

/** Tensor types kolm writes (and, with BF16, dequantizes on read). */
export type GgufWriteType = 'F32' | 'F16' | 'Q8_0' | 'Q4_0';

/** Bytes of a tensor of `numel` elements (a whole number of blocks, which callers check). */
export function tensorBytes(type: GgmlTypeInfo, numel: number): number {
  return (numel / type.blockElems) * type.blockBytes;
}

export const alignUp = (n: number, alignment: number): number => Math.ceil(n / alignment) * alignment;
