/**
 * The nesting check every JSON a model file holds goes through before it is parsed. No Node
 * built-ins: the browser's Keras readers use it too.
 */
import { ModelFileError } from './errors';

/**
 * Deepest nesting of arrays and objects accepted in model.json. Keras topologies nest a handful of
 * levels per sub-model; this leaves room for dozens of nested models.
 */
export const MAX_JSON_DEPTH = 128;

/**
 * Throws if the UTF-8 JSON in `bytes` nests arrays/objects deeper than `maxDepth`, scanning the
 * bytes before anything is decoded or parsed, so a nesting bomb fails fast instead of exhausting
 * the parser's memory. (Quotes, backslashes and brackets are single bytes in UTF-8 and never
 * occur inside a multi-byte character.)
 *
 * Usage: `checkJsonDepth(bytes, 'm/model.json');`
 */
export function checkJsonDepth(bytes: Uint8Array, file: string, maxDepth = MAX_JSON_DEPTH): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) {
        throw new ModelFileError(file, `nests arrays/objects more than ${maxDepth} levels deep (at byte ${i}); ` +
          'expected a TensorFlow.js layers model.json.');
      }
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
}
