/**
 * `runLayerTest`: the checks every layer of the package must pass, from its arguments, in the
 * spirit of Keras's `run_layer_test`:
 * - build: the weights' names, shapes and trainability, the output shape;
 * - config: getConfig -> fromConfig -> getConfig is the same, and the class is registered with
 *   tf.serialization under its class name;
 * - serialization: a model holding the layer saved and loaded through tf.io in memory gives the
 *   same class, weight names and predictions;
 * - masks: the layer supports masking and passes a mask through unchanged;
 * - math: output and gradients (x and every trainable weight) against a plainly written
 *   reference differentiated by tf's autodiff, on each backend asked for;
 * - memory: calls, gradients, saving and loading leave tf.memory().numTensors where it was.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { input, lossWeights, relError, useBackend } from '../helpers/tensors';

type LayerClass = tf.serialization.SerializableConstructor<tf.layers.Layer> & { className: string };

export interface LayerTestSpec {
  /** The layer's class, as registered with tf.serialization. */
  cls: LayerClass;
  /** Constructor arguments under test. */
  args: Record<string, unknown>;
  /** The input's shape, batch included. */
  inputShape: number[];
  /** Weights in order: name (after `<layer name>/`), shape, trainable. */
  weights: Array<[string, number[], boolean]>;
  /**
   * The output by plain tf ops from x and the layer's weights (in `weights` order), for the call
   * kwargs below; autodiff of it is the gradient reference.
   */
  reference: (x: tf.Tensor, weights: tf.Tensor[]) => tf.Tensor;
  /** Call kwargs (e.g. `{ training: true }`); default none. */
  kwargs?: Record<string, unknown>;
  /** Backends for the math check; default cpu and wasm. */
  backends?: Array<'cpu' | 'wasm'>;
  /** Largest relative error of the output (default 1e-5) and of the gradients (default 1e-4). */
  tolerance?: { y: number; grads: number };
}

/** Gives every weight random values (positive, for variances), so each one matters. */
function randomizeWeights(layer: tf.layers.Layer): void {
  tf.tidy(() => layer.setWeights(layer.getWeights().map((w, i) => tf.randomUniform(w.shape, 0.5, 1.5, 'float32', 11 + i))));
}

/** Builds the layer on its own, with random weights. */
function builtLayer(spec: LayerTestSpec, name: string): tf.layers.Layer {
  const layer = new spec.cls({ ...spec.args, name });
  layer.build(spec.inputShape);
  randomizeWeights(layer);
  return layer;
}

function disposeWeights(layer: tf.layers.Layer): void {
  layer.weights.forEach((w) => w.dispose());
}

async function saveAndLoad(model: tf.LayersModel): Promise<{ artifacts: tf.io.ModelArtifacts; loaded: tf.LayersModel }> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (a) => {
    artifacts = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  return { artifacts: artifacts!, loaded: await tf.loadLayersModel(tf.io.fromMemory(artifacts!)) };
}

/**
 * Registers a describe block with the checks above for one layer configuration.
 *
 * Usage: `runLayerTest('RMSNormalization axis -1', { cls: RMSNormalization, args: {}, inputShape: [2, 5], weights: [['scale', [5], true]], reference })`
 */
export function runLayerTest(title: string, spec: LayerTestSpec): void {
  const tol = spec.tolerance ?? { y: 1e-5, grads: 1e-4 };
  describe(title, () => {
    beforeAll(() => useBackend('cpu'));

    test('builds the expected weights, in order, and keeps the input shape', () => {
      const before = tf.memory().numTensors;
      const layer = builtLayer(spec, 'under_test');
      // Built outside a model a weight is named by its own name (made unique); in a model, `<layer name>/` comes first.
      expect(layer.weights.map((w) => [w.originalName, w.shape, w.trainable])).toEqual(spec.weights);
      expect(layer.computeOutputShape(spec.inputShape)).toEqual(spec.inputShape);
      const x = input(spec.inputShape);
      const y = layer.apply(x, spec.kwargs) as tf.Tensor;
      expect(y.shape).toEqual(spec.inputShape);
      tf.dispose([x, y]);
      disposeWeights(layer);
      expect(tf.memory().numTensors).toBe(before);
    });

    test('getConfig -> fromConfig round-trips, under the registered class name', () => {
      const registered = tf.serialization.SerializationMap.getMap().classNameMap[spec.cls.className];
      expect(registered?.[0]).toBe(spec.cls);
      const layer = new spec.cls({ ...spec.args, name: 'config_test' });
      const config = layer.getConfig();
      const copy = (spec.cls as unknown as { fromConfig: (c: LayerClass, cfg: object) => tf.layers.Layer }).fromConfig(spec.cls, config);
      expect(copy).toBeInstanceOf(spec.cls);
      expect(copy.getConfig()).toEqual(config);
    });

    test('a model holding it saves and loads through tf.io with the same weights and predictions', async () => {
      const layer = new spec.cls({ ...spec.args, name: 'saved' });
      const model = tf.sequential({ layers: [tf.layers.inputLayer({ inputShape: spec.inputShape.slice(1) }), layer] });
      randomizeWeights(layer);
      const x = input(spec.inputShape, 5);
      const before = tf.memory().numTensors;
      const { artifacts, loaded } = await saveAndLoad(model);
      expect(JSON.stringify(artifacts.modelTopology)).toContain(`"class_name":"${spec.cls.className}"`);
      expect(artifacts.weightSpecs!.map((s) => s.name)).toEqual(spec.weights.map(([n]) => `saved/${n}`));
      expect(loaded.getLayer('saved')).toBeInstanceOf(spec.cls);
      const [a, b] = [loaded.predict(x) as tf.Tensor, model.predict(x) as tf.Tensor];
      expect(relError(a, b)).toBe(0);
      tf.dispose([a, b]);
      loaded.dispose();
      expect(tf.memory().numTensors).toBe(before);
      model.dispose();
      x.dispose();
    });

    test('supports masking and passes a mask through unchanged', () => {
      const layer = builtLayer(spec, 'masked');
      expect(layer.supportsMasking).toBe(true);
      const x = input(spec.inputShape);
      const mask = tf.tidy(() => tf.cast(tf.greater(tf.sum(x, -1), 0), 'bool'));
      expect(layer.computeMask(x, mask)).toBe(mask);
      tf.dispose([x, mask]);
      disposeWeights(layer);
    });

    test.each<string>(spec.backends ?? ['cpu', 'wasm'])('%s: output and gradients match the reference, nothing leaks', async (backend) => {
      await useBackend(backend as 'cpu' | 'wasm');
      const layer = builtLayer(spec, 'math');
      const x = input(spec.inputShape, 3);
      const w = lossWeights(spec.inputShape);
      const values = layer.getWeights().map((v) => tf.clone(v));
      const trainable = spec.weights.flatMap(([, , t], i) => (t ? [i] : []));
      const vars = layer.trainableWeights.map((v) => (v as unknown as { val: tf.Variable }).val);
      const before = tf.memory().numTensors;
      const loss = (y: tf.Tensor) => tf.sum(tf.mul(y, w)) as tf.Scalar;
      const ours = tf.tidy(() => {
        const y = layer.apply(x, spec.kwargs) as tf.Tensor;
        const dx = tf.grad((a: tf.Tensor) => loss(layer.apply(a, spec.kwargs) as tf.Tensor))(x);
        if (vars.length === 0) return [y, dx];
        const { value, grads } = tf.variableGrads(() => loss(layer.apply(x, spec.kwargs) as tf.Tensor), vars);
        value.dispose();
        return [y, dx, ...vars.map((v) => grads[v.name])];
      });
      // The reference sees the weights as they were before the calls above (a training call moves statistics).
      const ref = tf.tidy(() => {
        const withTrainable = (ts: tf.Tensor[]) => values.map((v, i) => (trainable.includes(i) ? ts[trainable.indexOf(i)] : v));
        const f = (a: tf.Tensor, ...ts: tf.Tensor[]) => spec.reference(a, withTrainable(ts));
        const grads = tf.grads((...args: tf.Tensor[]) => loss(f(args[0], ...args.slice(1))))([x, ...trainable.map((i) => values[i])]);
        return [f(x, ...trainable.map((i) => values[i])), ...grads];
      });
      expect(ours.length).toBe(ref.length);
      ours.forEach((t, i) => expect(relError(t, ref[i])).toBeLessThan(i === 0 ? tol.y : tol.grads));
      tf.dispose([...ours, ...ref]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, w, ...values]);
      disposeWeights(layer);
      await useBackend('cpu');
    });
  });
}
