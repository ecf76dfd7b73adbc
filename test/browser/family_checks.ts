/**
 * Browser checks for the per-sample normalizations built on the same base as the layer:
 * LayerNormalization against tfjs's own tf.layers.layerNormalization (3 SGD steps), and
 * GroupNormalization / InstanceNormalization against the textbook formula and tf's autodiff of
 * it (no built-in to compare with), RMSNormalization (as PyTorch's F.rms_norm) and
 * UnitNormalization (as Keras's) against their formulas and autodiff, over the last axis and
 * over two axes. Plain tf ops only, so they run on every backend.
 */
import * as tf from '@tensorflow/tfjs';
import { groupNormalization, instanceNormalization, layerNormalization, rmsNormalization, unitNormalization } from 'tfjs-batchnorm';
import { pairsDiff, relDiff } from './compare';

/** Group normalization of NHWC x by the textbook: statistics per sample and group of C / G channels. */
function textbookGroupNorm(x: tf.Tensor4D, groups: number, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number): tf.Tensor {
  const [n, h, w, c] = x.shape;
  const g = tf.reshape(x, [n, h, w, groups, c / groups]);
  const { mean, variance } = tf.moments(g, [1, 2, 4], true);
  const normalized = tf.reshape(tf.div(tf.sub(g, mean), tf.sqrt(tf.add(variance, epsilon))), x.shape);
  return tf.add(tf.mul(normalized, gamma), beta);
}

const TOL = 1e-4;

export const FAMILY_CHECKS: Record<string, () => Promise<string>> = {
  async 'LayerNormalization trains like tf.layers.layerNormalization (3 SGD steps)'() {
    const make = (ln: () => tf.layers.Layer) => {
      const m = tf.sequential({ layers: [
        tf.layers.dense({ inputShape: [5], units: 6, kernelInitializer: tf.initializers.glorotUniform({ seed: 31 }) }),
        ln(),
        tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 32 }) }),
      ] });
      return m;
    };
    const a = make(() => tf.layers.layerNormalization({ epsilon: 1e-3 }));
    const b = make(() => layerNormalization({ epsilon: 1e-3 }));
    b.setWeights(a.getWeights());
    for (const m of [a, b]) m.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const x = tf.randomNormal([8, 5], 1, 2, 'float32', 33);
    const y = tf.randomNormal([8, 2], 0, 1, 'float32', 34);
    for (let step = 0; step < 3; step++) {
      await a.trainOnBatch(x, y);
      await b.trainOnBatch(x, y);
    }
    const wa = a.getWeights();
    const wb = b.getWeights();
    let worst = 0;
    for (let i = 0; i < wa.length; i++) worst = Math.max(worst, relDiff(await wa[i].data(), await wb[i].data()));
    const cls = b.layers[1].getClassName();
    tf.dispose([x, y]);
    a.dispose();
    b.dispose();
    if (!(worst <= TOL)) throw new Error(`weights differ by ${worst.toExponential(2)} (tolerance ${TOL})`);
    return `${cls}: weights ${worst.toExponential(1)}`;
  },

  async 'GroupNormalization and InstanceNormalization match the textbook formula and its autodiff gradient'() {
    const lines: string[] = [];
    for (const [name, groups, make] of [
      ['GroupNormalization(groups 2)', 2, () => groupNormalization({ groups: 2 })],
      ['InstanceNormalization', 4, () => instanceNormalization({})],
    ] as Array<[string, number, () => tf.layers.Layer]>) {
      const layer = make();
      const x = tf.randomNormal([2, 3, 3, 4], 1, 2, 'float32', 35);
      tf.dispose(layer.apply(x) as tf.Tensor);
      const gamma = tf.randomUniform([4], 0.5, 2, 'float32', 36);
      const beta = tf.randomNormal([4], 0, 1, 'float32', 37);
      layer.setWeights([gamma, beta]);
      const epsilon = layer.getConfig().epsilon as number;
      const w = tf.randomUniform(x.shape, -1, 1, 'float32', 38);
      const worst = await pairsDiff(tf.tidy(() => {
        const ours = (xx: tf.Tensor) => tf.sum(tf.mul(layer.apply(xx, { training: true }) as tf.Tensor, w));
        const ref = (xx: tf.Tensor) => tf.sum(tf.mul(textbookGroupNorm(xx as tf.Tensor4D, groups, gamma, beta, epsilon), w));
        return [layer.apply(x) as tf.Tensor, textbookGroupNorm(x as tf.Tensor4D, groups, gamma, beta, epsilon), tf.grad(ours)(x), tf.grad(ref)(x)];
      }));
      tf.dispose([x, gamma, beta, w]);
      layer.dispose();
      if (!(worst <= TOL)) throw new Error(`${name}: differs by ${worst.toExponential(2)} (tolerance ${TOL})`);
      lines.push(`${name}: ${worst.toExponential(1)}`);
    }
    return lines.join('; ');
  },

  async 'RMSNormalization matches PyTorch F.rms_norm\'s own float64 outputs and gradients (ranks 2 to 4, one and two axes)'() {
    const { epsilon, cases } = await (await fetch('/torch_rms/cases.json')).json() as { epsilon: number; cases: Array<{
      shape: number[]; axes: number[]; x: number[]; weight: number[]; w: number[]; y: number[]; dx: number[]; dweight: number[]; }> };
    const lines: string[] = [];
    for (const c of cases) {
      const layer = rmsNormalization({ axis: c.axes, epsilon });
      layer.build(c.shape);
      const scale = tf.tensor(c.weight, c.axes.map((a) => c.shape[a]));
      layer.setWeights([scale]);
      const [x, w] = [tf.tensor(c.x, c.shape), tf.tensor(c.w, c.shape)];
      const worst = await pairsDiff(tf.tidy(() => {
        const loss = (a: tf.Tensor) => tf.sum(tf.mul(layer.apply(a) as tf.Tensor, w)) as tf.Scalar;
        const dx = tf.grad(loss)(x);
        const scaleVariable = (layer.trainableWeights[0] as unknown as { val: tf.Variable }).val;
        const dweight = tf.variableGrads(() => loss(x), [scaleVariable]).grads[scaleVariable.name];
        return [layer.apply(x) as tf.Tensor, tf.tensor(c.y), dx, tf.tensor(c.dx), dweight, tf.tensor(c.dweight)];
      }));
      // Built but never called, so Layer.dispose refuses: its one weight is disposed directly.
      tf.dispose([x, w, scale, ...layer.weights.map((v) => v.read())]);
      if (!(worst <= TOL)) throw new Error(`shape [${c.shape}] axes [${c.axes}]: differs from PyTorch by ${worst.toExponential(2)} (tolerance ${TOL})`);
      lines.push(`[${c.shape}] axes [${c.axes}]: ${worst.toExponential(1)}`);
    }
    return lines.join('; ');
  },

  async 'RMSNormalization and UnitNormalization match their formulas and the autodiff gradient'() {
    const lines: string[] = [];
    const x = tf.randomNormal([3, 4, 6], 0.5, 1.5, 'float32', 41);
    const w = tf.randomUniform(x.shape, -1, 1, 'float32', 42);
    for (const axes of [[2], [1, 2]]) {
      const scale = tf.randomUniform(axes.map((a) => x.shape[a]), 0.5, 1.5, 'float32', 43);
      const bshape = x.shape.map((d, i) => (axes.includes(i) ? d : 1));
      const rms = rmsNormalization({ axis: axes });
      tf.dispose(rms.apply(x) as tf.Tensor);
      rms.setWeights([scale]);
      const unit = unitNormalization({ axis: axes });
      const formulas: Array<[string, tf.layers.Layer, (a: tf.Tensor) => tf.Tensor]> = [
        ['RMSNormalization', rms, (a) => tf.mul(tf.div(a, tf.sqrt(tf.add(tf.mean(tf.square(a), axes, true), 1e-6))), tf.reshape(scale, bshape))],
        ['UnitNormalization', unit, (a) => tf.div(a, tf.sqrt(tf.maximum(tf.sum(tf.square(a), axes, true), 1e-12)))],
      ];
      for (const [name, layer, formula] of formulas) {
        const worst = await pairsDiff(tf.tidy(() => {
          const loss = (f: (a: tf.Tensor) => tf.Tensor) => (a: tf.Tensor) => tf.sum(tf.mul(f(a), w));
          const ours = (a: tf.Tensor) => layer.apply(a) as tf.Tensor;
          return [ours(x), formula(x), tf.grad(loss(ours))(x), tf.grad(loss(formula))(x)];
        }));
        if (!(worst <= TOL)) throw new Error(`${name} axes ${axes}: differs by ${worst.toExponential(2)} (tolerance ${TOL})`);
        lines.push(`${name} [${axes}]: ${worst.toExponential(1)}`);
      }
      tf.dispose(scale);
      rms.dispose();
    }
    tf.dispose([x, w]);
    return lines.join('; ');
  },
};
