/**
 * Runs two models on the same seeded input and measures how far apart they are and how long each
 * takes per batch: the engine of `tfjs-batchnorm verify`.
 *
 * What is compared matters. A classifier's softmax (or sigmoid) output saturates: two models
 * whose logits differ by 1e-5 give one-hot outputs that agree to 1e-13. So where a model's output
 * comes out of a final softmax or sigmoid, the values going into it (the logits) are compared,
 * and the outputs are reported beside them; `layer` compares any named layer's output instead.
 */
import * as tf from '@tensorflow/tfjs';
import { predictAll, timePredictions } from '../core/timing';
import { didYouMean } from '../core/suggest';
import { leafLayers } from '../convert/rebuild';
import { wrapCall } from './progress';

export interface CompareOptions {
  /** Batch size of the generated input (default 2). */
  batch?: number;
  /** Seed of the uniform random input (default 0). */
  seed?: number;
  /** Input value range (default [-1, 1], MobileNet-style image scaling). */
  range?: [number, number];
  /** Timed runs per model, after the comparison run that doubles as warm-up (default 3). */
  runs?: number;
  /** Compare the output of the layer of this name (in both models) instead of the model outputs. */
  layer?: string;
}

/** How far apart one tensor of model a and the same tensor of model b are. */
export interface TensorDiff {
  /** The output's name, with what was compared: `dense_2 (logits, before softmax)`. */
  name: string;
  shape: number[];
  maxAbsDiff: number;
  /** maxAbsDiff divided by the largest |value| of model a's tensor. */
  maxRelDiff: number;
}

export interface CompareResult {
  inputShapes: number[][];
  /** What the tolerance applies to: the logits where outputs come out of softmax or sigmoid, a named layer, or the outputs. */
  compared: TensorDiff[];
  /** The models' outputs themselves. */
  outputs: TensorDiff[];
  /** The largest maxAbsDiff and maxRelDiff of `compared`. */
  maxAbsDiff: number;
  maxRelDiff: number;
  /** Saturated outputs, and outputs whose logits could not be taken, in words. */
  warnings: string[];
  /** Median milliseconds per batch. */
  msPerBatchA: number;
  msPerBatchB: number;
}

/** Input shapes of a model with the batch dimension set; throws if a dimension is unknown. */
export function inputShapes(model: tf.LayersModel, batch: number): number[][] {
  return model.inputs.map((input) => input.shape.map((d, i) => {
    if (i === 0) return batch;
    if (d == null) throw new Error(`input '${input.name}' has an unknown dimension ${i} (shape ${JSON.stringify(input.shape)})`);
    return d;
  }));
}

/** Softmax and sigmoid squash their input into (0, 1), where differences vanish. */
const SQUASHING = ['softmax', 'sigmoid'];

interface ActivationHolder { activation?: { apply: (x: tf.Tensor, ...rest: unknown[]) => tf.Tensor; getClassName(): string } }

/** The leaf layer that makes output `index` of `model`, looking into nested models. */
function outputLayer(model: tf.LayersModel, index: number): tf.layers.Layer {
  // Through the symbolic outputs: a Sequential keeps its output layers in an inner model.
  const output = model.outputs[index];
  const layer = output.sourceLayer as tf.layers.Layer;
  return layer instanceof tf.LayersModel ? outputLayer(layer, output.tensorIndex) : layer;
}

/** Output `index`'s name: the layer that makes it, as in `model.outputNames`. */
function outputName(model: tf.LayersModel, index: number): string {
  return model.outputNames[index] ?? model.outputs[index].sourceLayer.name;
}

/** The squashing activation that ends `layer`, if any: `softmax`, `sigmoid` or null. */
function squashingActivation(layer: tf.layers.Layer): string | null {
  if (layer.getClassName() === 'Softmax') return 'softmax';
  const name = (layer as unknown as ActivationHolder).activation?.getClassName();
  return name != null && SQUASHING.includes(name) ? name : null;
}

/**
 * Keeps a copy of what goes into `layer`'s final activation each time the layer runs; returns the
 * restore function. For a Softmax layer that is the layer's input.
 */
function captureLogits(layer: tf.layers.Layer, into: tf.Tensor[]): () => void {
  const keep = (x: tf.Tensor) => { into.push(tf.keep(x.clone())); };
  if (layer.getClassName() === 'Softmax') {
    return wrapCall(layer, (call) => (inputs, kwargs) => {
      keep(Array.isArray(inputs) ? inputs[0] : inputs);
      return call(inputs, kwargs);
    });
  }
  const holder = layer as unknown as ActivationHolder;
  const original = holder.activation!;
  holder.activation = Object.create(original, {
    apply: { value: (x: tf.Tensor, ...rest: unknown[]) => { keep(x); return original.apply(x, ...rest); } },
  });
  return () => { holder.activation = original; };
}

/** Keeps a copy of `layer`'s output each time it runs; returns the restore function. */
function captureOutput(layer: tf.layers.Layer, into: tf.Tensor[]): () => void {
  return wrapCall(layer, (call) => (inputs, kwargs) => {
    const y = call(inputs, kwargs);
    for (const t of Array.isArray(y) ? y : [y]) into.push(tf.keep(t.clone()));
    return y;
  });
}

/** The one layer named `name` in `model` or its nested models; the error lists close names. */
function layerNamed(model: tf.LayersModel, name: string, which: string): tf.layers.Layer {
  const all = [...leafLayers(model).values()];
  const found = all.filter((l) => l.name === name);
  if (found.length === 1) return found[0];
  if (found.length > 1) throw new Error(`model ${which} has ${found.length} layers named '${name}' (in nested models)`);
  throw new Error(`model ${which} has no layer named '${name}'${didYouMean(name, all.map((l) => l.name))}`);
}

function diff(name: string, a: tf.Tensor, b: tf.Tensor): TensorDiff {
  if (!tf.util.arraysEqual(a.shape, b.shape)) {
    throw new Error(`${name} differs in shape between the models: ${JSON.stringify(a.shape)} vs ${JSON.stringify(b.shape)}`);
  }
  return tf.tidy(() => {
    const maxAbsDiff = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
    const maxAbs = tf.max(tf.abs(a)).dataSync()[0];
    return { name, shape: a.shape, maxAbsDiff, maxRelDiff: maxAbs > 0 ? maxAbsDiff / maxAbs : maxAbsDiff };
  });
}

/** Throws when a tensor holds NaN or ±Infinity: such a model cannot be verified, whatever the other gives. */
function assertFinite(t: tf.Tensor, what: string): void {
  const bad = tf.tidy(() => tf.logicalNot(tf.isFinite(t)).any().dataSync()[0]);
  if (bad) {
    throw new Error(`${what} holds NaN or Infinity on the seeded input, so the models cannot be compared; ` +
      'look for non-finite weights (tfjs-batchnorm inspect)');
  }
}

/** Samples of `y` (a softmax or sigmoid output) whose every value is within 1e-6 of 0 or 1. */
function saturatedSamples(y: tf.Tensor): number {
  return tf.tidy(() => {
    const flat = y.reshape([y.shape[0], -1]);
    const edge = tf.logicalOr(tf.less(flat, 1e-6), tf.greater(flat, 1 - 1e-6));
    return edge.all(1).sum().dataSync()[0];
  });
}

/**
 * Compares `a` and `b` on one seeded random batch (see the file comment for what is compared),
 * then times both. Throws if their inputs or outputs differ in shape, or either predicts NaN.
 *
 * Usage: `const { maxAbsDiff, warnings } = await compareModels(original, folded, { batch: 2, seed: 0 });`
 */
export async function compareModels(a: tf.LayersModel, b: tf.LayersModel, options: CompareOptions = {}): Promise<CompareResult> {
  const { batch = 2, seed = 0, range = [-1, 1], runs = 3 } = options;
  const shapes = inputShapes(a, batch);
  const shapesB = inputShapes(b, batch);
  if (JSON.stringify(shapes) !== JSON.stringify(shapesB)) {
    throw new Error(`the models take different inputs: ${JSON.stringify(shapes)} vs ${JSON.stringify(shapesB)}`);
  }
  if (a.outputs.length !== b.outputs.length) {
    throw new Error(`the models have different numbers of outputs: ${a.outputs.length} vs ${b.outputs.length}`);
  }
  const warnings: string[] = [];
  const names = a.outputs.map((_, i) => outputName(a, i));
  // Per output: the squashing activation both models end it with (compared before it), or null.
  const squash = names.map((name, i) => {
    const [sa, sb] = [squashingActivation(outputLayer(a, i)), squashingActivation(outputLayer(b, i))];
    if (sa !== sb) warnings.push(`output '${name}' ends in ${sa ?? 'no squashing activation'} in a but ${sb ?? 'none'} in b; compared the outputs`);
    return options.layer == null && sa === sb ? sa : null;
  });
  const captured: tf.Tensor[][] = [[], []];
  const restores: (() => void)[] = [];
  const inputs = shapes.map((shape, i) => tf.randomUniform(shape, range[0], range[1], a.inputs[i].dtype, seed + i));
  try {
    const compared: TensorDiff[] = [];
    let outputs: TensorDiff[] = [];
    tf.tidy(() => {
      for (const [k, model] of [a, b].entries()) {
        if (options.layer != null) restores.push(captureOutput(layerNamed(model, options.layer, k === 0 ? 'a' : 'b'), captured[k]));
        squash.forEach((s, i) => { if (s != null) restores.push(captureLogits(outputLayer(model, i), captured[k])); });
      }
      // The comparison run is each model's first run, the warm-up of the timing below.
      const ya = predictAll(a, inputs);
      const yb = predictAll(b, inputs);
      if (ya.some((y, i) => !tf.util.arraysEqual(y.shape, yb[i].shape))) {
        throw new Error(`the models' outputs differ in shape: ${JSON.stringify(ya.map((y) => y.shape))} vs ` +
          `${JSON.stringify(yb.map((y) => y.shape))}`);
      }
      ya.forEach((y, i) => assertFinite(y, `model a's output '${names[i]}'`));
      yb.forEach((y, i) => assertFinite(y, `model b's output '${names[i]}'`));
      if (options.layer != null && captured[0].length === 0) throw new Error(`the layer '${options.layer}' did not run in predict`);
      if (captured[0].length !== captured[1].length) {
        throw new Error(`the layer '${options.layer}' ran ${captured[0].length} time(s) in a but ${captured[1].length} in b`);
      }
      const labels = options.layer != null ? captured[0].map((_, j) => `layer '${options.layer}'${captured[0].length > 1 ? ` #${j + 1}` : ''}`)
        : squash.flatMap((s, i) => (s == null ? [] : [`${names[i]} (logits, before ${s})`]));
      captured[0].forEach((t, j) => {
        assertFinite(t, `model a's ${labels[j]}`);
        assertFinite(captured[1][j], `model b's ${labels[j]}`);
        compared.push(diff(labels[j], t, captured[1][j]));
      });
      outputs = ya.map((y, i) => {
        if (squash[i] != null || squashingActivation(outputLayer(a, i)) != null) {
          const n = saturatedSamples(y);
          if (n > 0) {
            warnings.push(`output '${names[i]}' of a is saturated in ${n} of ${y.shape[0]} sample(s) (every value within ` +
              `1e-6 of 0 or 1), where differences vanish${squash[i] != null ? '; the logits were compared' : ''}`);
          }
        }
        return diff(names[i], y, yb[i]);
      });
    });
    for (const restore of restores.splice(0).reverse()) restore();
    // Outputs without a squashing activation are compared as they are.
    if (options.layer == null) outputs.forEach((d, i) => { if (squash[i] == null) compared.push(d); });
    const [msPerBatchA, msPerBatchB] = await timePredictions([a, b], inputs, { runs, warmUpRounds: 0 });
    return {
      inputShapes: shapes,
      compared,
      outputs,
      maxAbsDiff: Math.max(...compared.map((d) => d.maxAbsDiff)),
      maxRelDiff: Math.max(...compared.map((d) => d.maxRelDiff)),
      warnings,
      msPerBatchA,
      msPerBatchB,
    };
  } finally {
    for (const restore of restores.reverse()) restore();
    tf.dispose(inputs);
    tf.dispose(captured.flat());
  }
}
