// Importing this module registers every primitive op.
import './elementwise.js';
import './reduce.js';
import './matmul.js';
import './layout.js';
import './softmax.js';
import './dynamic.js';
import './quantized.js';
