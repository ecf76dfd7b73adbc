/**
 * Keras semantics for freezing a whole model: in Keras, `model.trainable = False` sets
 * `trainable` on every layer inside it, at any depth, so each BatchNormalization in a frozen
 * pretrained base runs in inference mode and keeps its moving statistics while a new head
 * trains. tfjs's container setter only flips the `trainable` flags of its direct children's
 * weights, and never the layers' own `trainable`, so a layer cannot tell it is frozen.
 *
 * `freezeWithContainers(isTarget)` extends tfjs's `LayersModel.prototype.trainable` setter: when
 * a model's `trainable` changes, the new value is also set on the nested models and on the
 * layers `isTarget` selects (this package's normalization layers), which recurse in turn. Other
 * layers are left as tfjs leaves them. Only changes propagate: tfjs itself sets `trainable = true`
 * on fresh internal models (Sequential's build does), and that must not unfreeze a layer the
 * user froze on its own. As in Keras, unfreezing a model unfreezes every target layer in it.
 */
import * as tf from '@tensorflow/tfjs';

type Target = (layer: tf.layers.Layer) => boolean;

const INSTALLED = Symbol.for('tfjs-batchnorm.freezeWithContainers');
const targets: Target[] = [];

/**
 * Makes `model.trainable = value` reach the layers `isTarget` selects inside `model`, at any depth.
 * Installs the setter once per tfjs instance; each predicate is added once, so layer constructors
 * may call it every time.
 *
 * Usage: `freezeWithContainers((layer) => layer instanceof BatchNormalization);`
 */
export function freezeWithContainers(isTarget: Target): void {
  if (!targets.includes(isTarget)) targets.push(isTarget);
  const proto = tf.LayersModel.prototype as unknown as Record<symbol, unknown>;
  if (proto[INSTALLED]) return;
  const inherited = findAccessor(tf.LayersModel.prototype, 'trainable');
  Object.defineProperty(tf.LayersModel.prototype, 'trainable', {
    configurable: true,
    get(this: tf.LayersModel): boolean {
      return inherited.get!.call(this);
    },
    set(this: tf.LayersModel, value: boolean) {
      const changed = inherited.get!.call(this) !== value;
      inherited.set!.call(this, value);
      if (!changed) return;
      for (const layer of this.layers ?? []) {
        if (layer instanceof tf.LayersModel || targets.some((t) => t(layer))) layer.trainable = value;
      }
    },
  });
  Object.defineProperty(tf.LayersModel.prototype, INSTALLED, { value: true });
}

function findAccessor(proto: object | null, name: string): PropertyDescriptor {
  for (let p = proto; p != null; p = Object.getPrototypeOf(p)) {
    const d = Object.getOwnPropertyDescriptor(p, name);
    if (d?.get != null && d.set != null) return d;
  }
  throw new Error(`tfjs-batchnorm: tfjs's LayersModel has no '${name}' accessor to extend`);
}
