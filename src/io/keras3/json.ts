/**
 * Small JSON helpers and the error the Keras 3 translation throws. No Node built-ins and no
 * tfjs: the translation runs in browsers too.
 */

export type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value != null && !Array.isArray(value);
}

/**
 * A Keras 3 model that cannot become a TF.js layers model: names the layer (and its class) and
 * says what was expected. File loaders wrap it into a ModelFileError naming the file.
 */
export class KerasFormatError extends Error {
  /** The layer the problem is in, or null for the model as a whole. */
  readonly layer: string | null;
  /** The layer's class, when the problem is about it. */
  readonly className: string | null;

  constructor(problem: string, layer: string | null = null, className: string | null = null) {
    const where = layer == null ? '' : `layer '${layer}'${className == null ? '' : ` (${className})`}: `;
    super(`${where}${problem}`);
    this.name = 'KerasFormatError';
    this.layer = layer;
    this.className = className;
  }
}

/** Short JSON for error messages. */
export function show(value: unknown, max = 80): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > max ? `${text.slice(0, max)}...` : text;
}

/**
 * Keras's snake_case of a class name (the name a `.keras` archive gives a layer's folder):
 * `DepthwiseConv2D` -> `depthwise_conv2d`, `RMSNormalization` -> `rms_normalization`.
 */
export function toSnakeCase(name: string): string {
  return name.replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}
