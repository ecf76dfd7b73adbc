/**
 * Registers a layer class with tfjs serialization once per tfjs instance, however many copies
 * of this package are loaded. A bundle can hold two (its ES module build and its CommonJS build,
 * when one dependency imports the package and another requires it): the copy loaded first
 * registers its class, and later copies export that same class, so `instanceof`, `getClassName`
 * and `tf.loadLayersModel` agree whichever copy a caller holds.
 */
import * as tf from '@tensorflow/tfjs';

type LayerClass = tf.serialization.SerializableConstructor<tf.layers.Layer> & { className: string };

/**
 * Returns the class registered under `cls.className` if it is a layer of this same tfjs,
 * otherwise registers `cls` and returns it.
 *
 * Usage: `export const MyLayer = registerLayerClass(MyLayerImpl);`
 */
export function registerLayerClass<T extends LayerClass>(cls: T): T {
  const existing = tf.serialization.SerializationMap.getMap().classNameMap[cls.className]?.[0] as unknown as
    T | undefined;
  if (existing != null && existing.prototype instanceof tf.layers.Layer && existing.className === cls.className) {
    return existing;
  }
  tf.serialization.registerClass(cls);
  return cls;
}
