/**
 * The tensorflow backend's kernels (src/kernels/tensorflow.ts) against the plain reference on the
 * `[P, K, G, J, R]` view (test/reference/reference_view_norm.ts): forward outputs and statistics,
 * apply with given statistics, and the backward kernel against autodiff of the reference, for
 * the views each route serves (FusedBatchNormV3 as NHWC and as NCHW, gamma inside and outside
 * the op, and TensorFlow's reductions for the rest), with no tensors left behind.
 */
import * as tf from '@tensorflow/tfjs';
import { NormApply, NormBackward, NormForward } from '../../src/kernels/names';
import { registerTensorflowKernels } from '../../src/kernels/tensorflow';
import { referenceApply, referenceForward, referenceStats, ViewSpec } from '../reference/reference_view_norm';
import { relativeMaxError } from '../reference/reference_batch_norm';

const TOLERANCE = 2e-5;

type View = Omit<ViewSpec, 'epsilon' | 'center'>;
const VIEWS: Array<[string, View, number[]?]> = [
  ['BatchNormalization channels last (NHWC)', { P: 1, K: 12, G: 5, J: 1, R: 1, cK: 0, cG: 1, channels: 5 }],
  ['BatchNormalization channels first (NCHW)', { P: 1, K: 3, G: 4, J: 1, R: 6, cK: 0, cG: 1, channels: 4 }],
  ['LayerNormalization, last axis', { P: 6, K: 1, G: 1, J: 10, R: 1, cK: 0, cG: 0, channels: 10 }],
  ['LayerNormalization, a middle axis (reductions route)', { P: 3, K: 4, G: 5, J: 1, R: 1, cK: 1, cG: 0, channels: 4 }],
  ['GroupNormalization channels first', { P: 2, K: 1, G: 3, J: 2, R: 5, cK: 0, cG: 2, channels: 6 }],
  ['GroupNormalization channels last (reductions route)', { P: 2, K: 6, G: 3, J: 2, R: 1, cK: 0, cG: 2, channels: 6 }],
  ['InstanceNormalization channels first (gamma inside the op, per sample)', { P: 2, K: 1, G: 4, J: 1, R: 6, cK: 0, cG: 1, channels: 4 }],
  ['GroupNormalization with one shared gamma', { P: 2, K: 1, G: 2, J: 1, R: 8, cK: 0, cG: 0, channels: 1 }],
  // 4-D inputs already in the op's layout go in without a reshape.
  ['BatchNormalization NHWC, a 4-D input', { P: 1, K: 12, G: 5, J: 1, R: 1, cK: 0, cG: 1, channels: 5 }, [2, 2, 3, 5]],
  ['BatchNormalization NCHW, a 4-D input', { P: 1, K: 3, G: 4, J: 1, R: 6, cK: 0, cG: 1, channels: 4 }, [3, 4, 2, 3]],
];

beforeAll(() => {
  expect(tf.getBackend()).toBe('tensorflow');
  expect(registerTensorflowKernels()).toBe(true);
});

function run(name: string, inputs: tf.NamedTensorMap, attrs: object): tf.Tensor[] {
  const out = tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap) as tf.Tensor | tf.Tensor[];
  return Array.isArray(out) ? out : [out];
}

function close(actual: tf.Tensor, expected: tf.Tensor, what: string): void {
  expect({ what, shape: actual.shape }).toEqual({ what, shape: expected.shape });
  const error = relativeMaxError(actual.dataSync(), expected.dataSync());
  if (!(error < TOLERANCE)) throw new Error(`${what}: relative error ${error} (tolerance ${TOLERANCE})`);
}

function inputs(v: View, seed: number) {
  const size = v.P * v.K * v.G * v.J * v.R;
  return {
    x: tf.randomNormal([size], 2, 3, 'float32', seed),
    gamma: tf.randomUniform([v.channels], 0.5, 2, 'float32', seed + 1),
    beta: tf.randomUniform([v.channels], -1, 1, 'float32', seed + 2),
    dy: tf.randomUniform([size], -1, 1, 'float32', seed + 3),
  };
}

describe.each([true, false])('center %s', (center) => {
  // Every row with three entries: jest would take a missing third for a done callback.
  it.each(VIEWS.map(([label, view, shape]) => [label, view, shape ?? null] as const))('%s: forward, apply and both backward modes match the reference', (label, view, shape) => {
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const spec: ViewSpec = { ...view, epsilon: 1e-3, center };
      const { x, gamma, beta, dy: dyFlat } = inputs(view, 7);
      // A 3-D shape of its own: the kernels take x in any shape of the view's size.
      const x4 = tf.reshape(x, shape ?? [view.P * view.K, view.G, view.J * view.R]);
      if (shape != null) expect(x4.rank).toBe(4);
      const dy = tf.reshape(dyFlat, x4.shape);

      const [y, mean, variance] = run(NormForward, { x: x4, gamma, beta }, spec);
      const [refMean, refVariance] = referenceStats(x4, spec);
      close(y, referenceForward(x4, gamma, beta, spec), `${label}: y`);
      close(mean, refMean, `${label}: mean`);
      close(variance, refVariance, `${label}: variance`);

      // Apply with statistics that are not the batch's.
      const givenMean = tf.randomNormal([view.P * view.G], 1, 2, 'float32', 11);
      const givenVariance = tf.randomUniform([view.P * view.G], 0.5, 4, 'float32', 12);
      const [applied] = run(NormApply, { x: x4, mean: givenMean, variance: givenVariance, gamma, beta }, spec);
      close(applied, referenceApply(x4, givenMean, givenVariance, gamma, beta, spec), `${label}: apply`);

      // Backward through the batch statistics, against autodiff of the reference forward.
      const loss = (f: (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.Tensor) =>
        tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(f(a, b, c), dy)));
      const [dx, dgamma, dbeta] = run(NormBackward, { dy, x: x4, gamma, mean, variance }, { ...spec, statsDependOnX: true });
      const [rdx, rdgamma, rdbeta] = loss((a, b, c) => referenceForward(a, b, c, spec))([x4, gamma, beta]);
      close(dx, rdx, `${label}: dx (statistics depend on x)`);
      close(dgamma, rdgamma, `${label}: dgamma`);
      close(dbeta, rdbeta, `${label}: dbeta`);

      // Backward with the statistics as constants.
      const [cdx, cdgamma, cdbeta] = run(NormBackward, { dy, x: x4, gamma, mean: givenMean, variance: givenVariance },
        { ...spec, statsDependOnX: false });
      const [sdx, sdgamma, sdbeta] = loss((a, b, c) => referenceApply(a, givenMean, givenVariance, b, c, spec))([x4, gamma, beta]);
      close(cdx, sdx, `${label}: dx (statistics constant)`);
      close(cdgamma, sdgamma, `${label}: dgamma (statistics constant)`);
      close(cdbeta, sdbeta, `${label}: dbeta (statistics constant)`);
    });
    expect(tf.memory().numTensors).toBe(before);
  });
});

it('BatchNormalization and contiguous per-sample views run TensorFlow\'s fused op; the rest TensorFlow reductions', async () => {
  const nested = async (view: View, center: boolean) => {
    const { x, gamma, beta } = inputs(view, 3);
    const info = await tf.profile(() => {
      tf.dispose(run(NormForward, { x, gamma, beta }, { ...view, epsilon: 1e-3, center }));
      return [];
    });
    tf.dispose([x, gamma, beta]);
    // tfjs's profile lists the kernels run inside ours; FusedBatchNormV3 goes to TensorFlow directly.
    return info.kernels.map((k) => k.name).filter((n) => n !== NormForward);
  };
  const reductions = (names: string[]) => names.filter((n) => ['Mean', 'Sum', 'SquaredDifference'].includes(n));
  for (const [label, view] of VIEWS) {
    const fused = !label.includes('reductions route');
    expect({ label, reductions: reductions(await nested(view, true)).length > 0 }).toEqual({ label, reductions: !fused });
  }
  // RMSNormalization (not centered) always takes the reductions.
  expect(reductions(await nested(VIEWS[2][1], false))).toContain('Mean');
});

it('the layers dispatch to these kernels on tensorflow: a training step runs NormForward and NormBackward, inference NormApply or NormForward', async () => {
  // Required here, after the setup loaded tfjs-node: the dispatcher registers the kernels on first use.
  const { batchNormalization, layerNormalization, rmsNormalization } = require('../../src');
  for (const make of [batchNormalization, layerNormalization, rmsNormalization]) {
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 6, inputShape: [4] }), make({ axis: -1 })] });
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const x = tf.randomNormal([8, 4], 0, 1, 'float32', 5);
    const y = tf.randomNormal([8, 6], 0, 1, 'float32', 6);
    const ours = async (f: () => Promise<unknown> | unknown) =>
      (await tf.profile(async () => { tf.dispose(await f() as tf.Tensor); return []; })).kernels
        .map((k) => k.name).filter((n) => n.startsWith('TfjsNorm'));
    const layer = model.layers[1].getClassName();
    expect({ layer, train: await ours(() => model.trainOnBatch(x, y)) }).toEqual({ layer, train: [NormForward, NormBackward] });
    const inference = make === batchNormalization ? NormApply : NormForward;
    expect({ layer, infer: await ours(() => model.predict(x)) }).toEqual({ layer, infer: [inference] });
    model.dispose();
    tf.dispose([x, y]);
  }
});
