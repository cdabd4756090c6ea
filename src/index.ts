export { KolmError } from './util/errors.js';
