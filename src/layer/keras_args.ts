/**
 * Checks of the constructor arguments a normalization layer receives, whether from code
 * (camelCase) or from a model.json config (snake_case, which tfjs turns into camelCase before
 * the constructor sees it). Keras raises an error naming any argument it does not know; so do
 * these checks, instead of dropping a typo such as `momentm` silently.
 */

/**
 * Arguments of every tfjs layer (tfjs's `LayerArgs`); `customObjects`, which tfjs's
 * deserializer adds to every config it passes to `fromConfig`; and Keras 3's `autocast`
 * (casting of variables under mixed precision), which cannot change a float32 computation and
 * is accepted and ignored.
 */
export const LAYER_ARGS: readonly string[] = [
  'name', 'trainable', 'dtype', 'inputShape', 'batchInputShape', 'batchSize', 'weights', 'inputDType', 'customObjects',
  'autocast',
];

/** What a layer accepts: argument names, and names accepted only with the value null (which asks for nothing). */
export interface KnownArguments {
  names: readonly string[];
  nullOnly?: readonly string[];
}

/**
 * The keys of `args` that `known` does not accept, in order.
 *
 * Usage: `unknownArguments({ momentm: 0.9 }, { names: ['momentum'] }) // ['momentm']`
 */
export function unknownArguments(args: object, known: KnownArguments): string[] {
  const value = (k: string) => (args as Record<string, unknown>)[k];
  return Object.keys(args).filter((k) => value(k) !== undefined && !known.names.includes(k) &&
    !(known.nullOnly?.includes(k) && value(k) === null));
}

/**
 * A Keras 3 dtype policy (`{className: 'DTypePolicy', config: {name: 'float32'}}` once tfjs has
 * camel-cased it) as the plain dtype name tfjs layers take; other values unchanged.
 *
 * Usage: `super({ ...args, dtype: plainDtype(args.dtype) })`
 */
export function plainDtype<T>(dtype: T): T | string {
  const config = (dtype as { config?: { name?: unknown } } | null)?.config;
  return typeof dtype === 'object' && dtype != null && typeof config?.name === 'string' ? config.name : dtype;
}

/**
 * Whether `value` is a finite number within [min, max].
 *
 * Usage: `if (!finiteIn(args.momentum, 0, 1)) throw ...`
 */
export function finiteIn(value: unknown, min: number, max = Infinity): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max;
}
