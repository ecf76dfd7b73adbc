/** Initializers, regularizers and constraints as tfjs, Keras 2 and Keras 3 write them. */
import * as tf from '@tensorflow/tfjs';
import { BatchNormalization } from '../src';
import { Constraint, Regularizer, resolveKerasObject } from '../src/layer/keras_objects';
import { useBackend } from './helpers/tensors';

beforeAll(() => useBackend('cpu'));

const x = () => tf.tensor1d([1, -2, 3]);

test.each([
  // [identifier, expected penalty on [1, -2, 3]: l1 * 6 + l2 * 14]
  [{ className: 'L2', config: { l2: 0.5 } }, 7],
  [{ className: 'L1', config: { l1: 0.5 } }, 3],
  [{ className: 'L1L2', config: { l1: 0.5, l2: 0.25 } }, 3 + 3.5],
  [{ module: 'keras.regularizers', className: 'L2', config: { l2: 0.5 }, registeredName: null }, 7],
  ['l2', 0.14], // Keras's default coefficient 0.01
  ['l1', 0.06],
  ['l1l2', 0.2], // tfjs's own identifier keeps tfjs's defaults (0.01 and 0.01)
])('regularizer %p resolves with Keras semantics', (id, penalty) => {
  const reg = resolveKerasObject<Regularizer>(id, 'regularizer')!;
  expect(reg.apply(x()).dataSync()[0]).toBeCloseTo(penalty, 5);
});

test.each([
  [{ className: 'MaxNorm', config: { maxValue: 1, axis: 0 } }, [1 / Math.sqrt(14), -2 / Math.sqrt(14), 3 / Math.sqrt(14)]],
  [{ className: 'NonNeg', config: {} }, [1, 0, 3]],
  ['nonNeg', [1, 0, 3]], // tfjs's identifier; tfjs turns Keras's 'non_neg' into this too
  ['non_neg', [1, 0, 3]],
  ['nonneg', [1, 0, 3]], // Keras 2 legacy alias
  ['unit_norm', [1 / Math.sqrt(14), -2 / Math.sqrt(14), 3 / Math.sqrt(14)]],
])('constraint %p resolves', (id, expected) => {
  const c = resolveKerasObject<Constraint>(id, 'constraint')!;
  const out = Array.from(c.apply(x()).dataSync());
  out.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
});

test.each([
  ['LecunNormal', 'LeCunNormal'],
  ['OrthogonalInitializer', 'Orthogonal'],
  ['glorot_uniform', 'GlorotUniform'],
  ['uniform', 'RandomUniform'],
  ['zero', 'Zeros'],
])('Keras initializer name %p resolves to tfjs %p', (id, className) => {
  const init = resolveKerasObject<tf.serialization.Serializable>(id, 'initializer')!;
  expect((init.constructor as unknown as { className: string }).className).toBe(className);
});

test.each([
  ['regularizer', { className: 'OrthogonalRegularizer', config: {} }, "Unknown regularizer: 'OrthogonalRegularizer'. Expected one of L1, L2, L1L2 "],
  ['regularizer', 'ones', "Unknown regularizer: 'ones'. Expected one of L1, L2, L1L2 "],
  ['constraint', 'l2', "Unknown constraint: 'l2'. Expected one of MaxNorm, MinMaxNorm, NonNeg, UnitNorm "],
  ['initializer', 'bogus', "Unknown initializer: 'bogus'. Expected one of Zeros, Ones, Constant,"],
] as const)('an unknown %s lists names of its own kind', (kind, id, message) => {
  expect(() => resolveKerasObject(id, kind)).toThrow(message);
});

test('a Keras 3 model.json with L2 / L1 regularizers and a MaxNorm constraint loads and keeps them', async () => {
  const ref = (cls: string, config: object) => ({ module: 'keras.regularizers', class_name: cls, config, registered_name: null });
  const topology = {
    class_name: 'Sequential',
    config: {
      name: 'seq',
      layers: [{
        class_name: 'TfjsBatchNormalization',
        config: {
          name: 'bn', batch_input_shape: [null, 3], axis: -1,
          gamma_regularizer: ref('L2', { l2: 0.5 }), beta_regularizer: ref('L1', { l1: 0.25 }),
          gamma_constraint: { module: 'keras.constraints', class_name: 'MaxNorm', config: { max_value: 2.0, axis: 0 }, registered_name: null },
          beta_constraint: 'non_neg',
        },
      }],
    },
  };
  const model = await tf.models.modelFromJSON({ modelTopology: topology as never });
  const bn = model.getLayer('bn');
  expect(bn).toBeInstanceOf(BatchNormalization);
  expect(bn.getConfig()).toMatchObject({
    gammaRegularizer: { className: 'L1L2', config: { l1: 0, l2: 0.5 } },
    betaRegularizer: { className: 'L1L2', config: { l1: 0.25, l2: 0 } },
    gammaConstraint: { className: 'MaxNorm', config: { maxValue: 2, axis: 0 } },
    betaConstraint: { className: 'NonNeg', config: {} },
  });
  // The penalties enter the model's losses: 0.5 * sum(gamma^2) with gamma = ones(3), beta = 0.
  const losses = bn.losses.map((l) => (l as unknown as () => tf.Scalar)().dataSync()[0]);
  expect(losses.reduce((a, b) => a + b, 0)).toBeCloseTo(1.5, 5);
});
