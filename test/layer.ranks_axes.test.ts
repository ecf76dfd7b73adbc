/**
 * Every rank from 2 to 5 and every valid feature axis, in both modes, with and without gamma and
 * beta: outputs, batch statistics and gradients against the plain composite reference (tf ops,
 * autodiff), and the training gradient against float64 central finite differences.
 */
import * as tf from '@tensorflow/tfjs';
import { BatchNormalization } from '../src';
import {
  float64Training, numericGradient, referenceInference, referenceTraining, relativeMaxError,
} from './reference/reference_batch_norm';
import { gradsOf, input, lossWeights, relError, useBackend } from './helpers/tensors';

const TOL = 1e-5;
const EPS = 1e-3;

beforeAll(() => useBackend('cpu'));

// [shape, axis, what it stands for]
const CASES: [number[], number, string][] = [
  [[8, 5], -1, 'dense [N,C]'],
  [[4, 6, 5], -1, 'sequence [N,T,C]'],
  [[4, 5, 6], 1, 'rank 3, axis 1'],
  [[2, 4, 4, 3], -1, 'NHWC'],
  [[2, 3, 4, 4], 1, 'NCHW'],
  [[2, 4, 3, 4], 2, 'rank 4, axis 2'],
  [[2, 3, 3, 2, 3], -1, 'NDHWC (rank 5)'],
  [[2, 3, 3, 2, 3], 1, 'NCDHW (rank 5, axis 1)'],
];
const FLAGS = [
  { center: true, scale: true }, { center: false, scale: true },
  { center: true, scale: false }, { center: false, scale: false },
];

function makeLayer(shape: number[], axis: number, flags: { center: boolean; scale: boolean }) {
  const layer = new BatchNormalization({ axis, ...flags, momentum: 0.8 });
  layer.build(shape);
  const c = shape[axis < 0 ? axis + shape.length : axis];
  // Non-trivial gamma, beta and moving statistics, so no term of the math hides behind a 0 or a 1.
  const gamma = flags.scale ? tf.randomUniform([c], 0.5, 2, 'float32', 1) : null;
  const beta = flags.center ? tf.randomUniform([c], -1, 1, 'float32', 2) : null;
  const movingMean = tf.randomUniform([c], -1, 1, 'float32', 3);
  const movingVar = tf.randomUniform([c], 0.5, 2, 'float32', 4);
  layer.setWeights([gamma, beta, movingMean, movingVar].filter((t): t is tf.Tensor => t != null));
  return { layer, c, resolved: axis < 0 ? axis + shape.length : axis, gamma, beta, movingMean, movingVar };
}

describe.each(CASES)('%p axis %p (%s)', (shape, axis) => {
  test.each(FLAGS)('training: output, statistics and gradients match the reference (%p)', (flags) => {
    const { layer, resolved, gamma, beta, movingMean, movingVar } = makeLayer(shape, axis, flags);
    const x = input(shape, 5);
    const ref = referenceTraining(x, gamma, beta, resolved, EPS);

    const y = layer.apply(x, { training: true }) as tf.Tensor;
    expect(relError(y, ref.y)).toBeLessThan(TOL);
    // moving = moving * 0.8 + batch * 0.2
    const [newMean, newVar] = layer.getWeights().slice(-2);
    expect(relError(newMean, tf.add(tf.mul(movingMean, 0.8), tf.mul(ref.mean, 0.2)))).toBeLessThan(TOL);
    expect(relError(newVar, tf.add(tf.mul(movingVar, 0.8), tf.mul(ref.variance, 0.2)))).toBeLessThan(TOL);

    const xv = tf.variable(x);
    const w = lossWeights(shape);
    const params = layer.trainableWeights.map((v) => v.read() as tf.Variable);
    const ours = gradsOf(() => layer.apply(xv, { training: true }) as tf.Tensor, w, [xv, ...params]);
    const refGrads = gradsOf(() => referenceTraining(xv, flags.scale ? params[0] : null,
      flags.center ? params[params.length - 1] : null, resolved, EPS).y, w, [xv, ...params]);
    expect(ours).toHaveLength(1 + Number(flags.scale) + Number(flags.center));
    ours.forEach((g, i) => expect(relError(g, refGrads[i])).toBeLessThan(TOL));
    xv.dispose();
  });

  test.each(FLAGS)('inference: output and gradients match the reference (%p)', (flags) => {
    const { layer, resolved, movingMean, movingVar } = makeLayer(shape, axis, flags);
    const xv = tf.variable(input(shape, 6));
    const params = layer.trainableWeights.map((v) => v.read() as tf.Variable);
    const gammaOf = () => (flags.scale ? params[0] : null);
    const betaOf = () => (flags.center ? params[params.length - 1] : null);
    const y = layer.apply(xv, { training: false }) as tf.Tensor;
    expect(relError(y, referenceInference(xv, movingMean, movingVar, gammaOf(), betaOf(), resolved, EPS))).toBeLessThan(TOL);

    const w = lossWeights(shape);
    const ours = gradsOf(() => layer.apply(xv) as tf.Tensor, w, [xv, ...params]);
    const refGrads = gradsOf(() => referenceInference(xv, movingMean, movingVar, gammaOf(), betaOf(), resolved, EPS), w, [xv, ...params]);
    ours.forEach((g, i) => expect(relError(g, refGrads[i])).toBeLessThan(TOL));
    // Inference leaves the moving statistics alone.
    expect(relError(layer.getWeights().slice(-1)[0], movingVar)).toBe(0);
    xv.dispose();
  });
});

test.each(CASES.filter(([s]) => s.reduce((a, b) => a * b) <= 200))(
  'training gradient of x, gamma, beta matches float64 finite differences: %p axis %p (%s)', (shape, axis) => {
    const { layer, c, resolved, gamma, beta } = makeLayer(shape, axis, { center: true, scale: true });
    const x = input(shape, 9);
    const w = lossWeights(shape);
    const wv = Float64Array.from(w.dataSync());
    const loss = (xs: Float64Array, g: Float64Array, b: Float64Array) =>
      float64Training(xs, shape, resolved, g, b, EPS).reduce((acc, v, i) => acc + v * wv[i], 0);
    const x64 = Float64Array.from(x.dataSync());
    const g64 = Float64Array.from(gamma!.dataSync());
    const b64 = Float64Array.from(beta!.dataSync());

    const xv = tf.variable(x);
    const params = layer.trainableWeights.map((v) => v.read() as tf.Variable);
    const [dx, dgamma, dbeta] = gradsOf(() => layer.apply(xv, { training: true }) as tf.Tensor, w, [xv, ...params]);
    const numeric = [
      numericGradient((v) => loss(v, g64, b64), x64),
      numericGradient((v) => loss(x64, v, b64), g64),
      numericGradient((v) => loss(x64, g64, v), b64),
    ];
    expect(dgamma.shape).toEqual([c]);
    // float32 analytic vs float64 numeric: agreement to ~1e-4 of the gradient's scale.
    expect(relativeMaxError(dx.dataSync(), numeric[0])).toBeLessThan(1e-4);
    expect(relativeMaxError(dgamma.dataSync(), numeric[1])).toBeLessThan(1e-4);
    expect(relativeMaxError(dbeta.dataSync(), numeric[2])).toBeLessThan(1e-4);
    xv.dispose();
  });
