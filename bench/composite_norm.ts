/**
 * The straightforward composite implementation the bench compares GroupNormalization and
 * InstanceNormalization with (tfjs has no built-in for them): tf ops, tf autodiff for the
 * gradient, as one would write the layer by hand (Keras's GroupNormalization, transcribed).
 */
import * as tf from '@tensorflow/tfjs';

/** Group normalization on the last axis with `groups` groups, by tf ops. */
export class CompositeGroupNorm extends tf.layers.Layer {
  static className = 'BenchCompositeGroupNorm';
  private gamma!: tf.LayerVariable;
  private beta!: tf.LayerVariable;

  constructor(private readonly groups: number) {
    super({});
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const c = (inputShape as number[])[(inputShape as number[]).length - 1];
    this.gamma = this.addWeight('gamma', [c], 'float32', tf.initializers.ones());
    this.beta = this.addWeight('beta', [c], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const c = x.shape[x.rank - 1];
      const grouped = tf.reshape(x, [x.shape[0], -1, this.groups, c / this.groups]);
      const { mean, variance } = tf.moments(grouped, [1, 3], true);
      const xhat = tf.reshape(tf.mul(tf.sub(grouped, mean), tf.rsqrt(tf.add(variance, 1e-3))), x.shape);
      return tf.add(tf.mul(xhat, this.gamma.read()), this.beta.read());
    });
  }
}
