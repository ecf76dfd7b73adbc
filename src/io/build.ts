/**
 * Builds a layers model from checked artifacts without trusting the layer configs: every weight
 * a layer creates starts as zeros (no initializer runs for weights the file provides), the total
 * may not exceed what the weights manifest holds (so a 1 KB file declaring a 20000 x 20000 Dense
 * fails before allocating), the built weights must match the manifest by name and shape, and on
 * any failure every tensor created so far is disposed.
 */
import * as tf from '@tensorflow/tfjs';
import { ModelFileError } from './errors';
import { checkTopology } from './topology';
import { checkWeightValues, WeightValueOptions } from './weight_values';

/** Limits and policies of a load (see docs/safety.md). */
export interface LoadChecks extends WeightValueOptions {
  /** Most layers a loaded model may have, nested models included (default DEFAULT_MAX_LAYERS). */
  maxLayers?: number;
  /** Longest chain of layers one after another, nested models included (default DEFAULT_MAX_DEPTH). */
  maxDepth?: number;
  /** Most values one layer may output per sample (default DEFAULT_MAX_ACTIVATION_VALUES). */
  maxActivationValues?: number;
}

/**
 * Default limit on the values one layer outputs for one sample: 2^28, 1 GiB as float32, which is
 * more than any layer of a real model outputs (a 1024 x 1024 image with 256 channels) and more
 * than a 32-bit browser or a small machine can allocate for even a batch of one.
 */
export const DEFAULT_MAX_ACTIVATION_VALUES = 2 ** 28;

type LayerVariable = tf.LayerVariable;
type ClassMap = Record<string, [unknown, (cls: unknown, config: Record<string, unknown>, ...rest: unknown[]) => unknown]>;
type AddWeight = (this: tf.layers.Layer, name: string, shape: number[], dtype?: tf.DataType, ...rest: unknown[]) => LayerVariable;

/**
 * The manifest entries that hold model weights (optimizer state is for resuming training).
 *
 * Usage: `const specs = modelWeightSpecs(artifacts.weightSpecs ?? []);`
 */
export function modelWeightSpecs(specs: tf.io.WeightsManifestEntry[]): tf.io.WeightsManifestEntry[] {
  return specs.filter((s) => s.group !== 'optimizer');
}

const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function isDisposed(v: LayerVariable): boolean {
  try {
    v.read();
    return false;
  } catch {
    return true;
  }
}

/**
 * Builds the model in `artifacts.modelTopology` with zero-filled weights, checked against
 * `artifacts.weightSpecs` and `checks`, with its training config (if any) loaded. Throws
 * ModelFileError naming `file`; leaks nothing on failure.
 *
 * Usage: `const model = await buildChecked(artifacts, 'm/model.json'); model.loadWeights(weights);`
 */
export async function buildChecked(artifacts: tf.io.ModelArtifacts, file: string,
  checks: LoadChecks = {}): Promise<tf.LayersModel> {
  checkTopology(artifacts.modelTopology, file, checks.maxLayers, checks.maxDepth);
  checkWeightValues(artifacts, file, checks);
  const specs = modelWeightSpecs(artifacts.weightSpecs ?? []);
  const provided = specs.reduce((sum, s) => sum + count(s.shape), 0);
  let remaining = provided;
  const created: LayerVariable[] = [];
  // Every initial value, so that one a failing LayerVariable constructor never took is disposed too.
  const initial: tf.Tensor[] = [];
  const zeros = {
    apply: (shape: number[], dtype?: tf.DataType) => {
      const t = tf.zeros(shape, dtype);
      initial.push(t);
      return t;
    },
  };
  const proto = tf.layers.Layer.prototype as unknown as { addWeight: AddWeight };
  const original = proto.addWeight;
  proto.addWeight = function addWeightWithinBudget(name, shape, dtype, ...rest) {
    const n = count(shape);
    // A loader may build a model twice and dispose the first (a BatchNormalization whose class
    // depends on its input's rank): weights disposed since then no longer count.
    if (!(n <= remaining)) remaining = provided - created.reduce((sum, v) => sum + (isDisposed(v) ? 0 : count(v.shape as number[])), 0);
    if (!(n <= remaining)) {
      throw new ModelFileError(file, `layer '${this.name}' creates weight '${name}' of shape ${JSON.stringify(shape)} ` +
        `(${n} values) from its config, more than the weights manifest provides (${provided} values for all ` +
        'layers); expected layer configs that match the manifest.');
    }
    remaining -= n;
    // Arguments 3 and 7 of addWeight are the initializer and its factory: both become zeros.
    const args = [...rest];
    args[0] = zeros;
    args[4] = () => zeros;
    const variable = original.call(this, name, shape, dtype, ...args);
    created.push(variable);
    return variable;
  } as AddWeight;
  // The layer whose construction or call failed first (the innermost one), to name it in the error.
  let blame: string | null = null;
  const blameOn = (name: unknown, cls: string) => { blame ??= `layer ${JSON.stringify(name ?? '(unnamed)')} (${cls})`; };
  const registry = tf.serialization.SerializationMap.getMap() as unknown as { classNameMap: ClassMap };
  const classes = registry.classNameMap;
  const blaming: ClassMap = {};
  for (const [name, [cls, fromConfig]] of Object.entries(classes)) {
    blaming[name] = [cls, (c: unknown, config: Record<string, unknown>, ...rest: unknown[]) => {
      try {
        return fromConfig(c, config, ...rest);
      } catch (e) {
        blameOn(config?.['name'], name);
        throw e;
      }
    }];
  }
  const layerProto = tf.layers.Layer.prototype as unknown as { apply: (...args: unknown[]) => unknown };
  const apply = layerProto.apply;
  layerProto.apply = function applyBlaming(this: tf.layers.Layer, ...args: unknown[]) {
    try {
      return apply.apply(this, args);
    } catch (e) {
      blameOn(this.name, this.getClassName());
      throw e;
    }
  };
  let pending: Promise<tf.LayersModel>;
  try {
    // modelFromJSON deserializes synchronously before its first await, so the patches are only in
    // place while this model is built.
    registry.classNameMap = blaming;
    pending = tf.models.modelFromJSON({ modelTopology: artifacts.modelTopology as tf.io.ModelJSON['modelTopology'] });
  } finally {
    proto.addWeight = original;
    layerProto.apply = apply;
    registry.classNameMap = classes;
  }
  let model: tf.LayersModel | null = null;
  try {
    model = await pending;
    checkWeightsMatch(model, specs, file);
    checkActivations(model, file, checks.maxActivationValues ?? DEFAULT_MAX_ACTIVATION_VALUES);
    if (artifacts.trainingConfig != null) loadTrainingConfig(model, artifacts.trainingConfig, file);
    return model;
  } catch (e) {
    tf.dispose(initial);
    try {
      model?.dispose();
    } catch {
      // Partly disposed already; the loop below disposes the rest.
    }
    // The model may not exist yet (a later layer failed): dispose what was created one by one.
    for (const v of created) {
      try {
        v.dispose();
      } catch {
        // Already disposed with its layer.
      }
    }
    if (e instanceof ModelFileError) throw e;
    const message = clearMessage((e as Error).message);
    if (blame != null && !message.startsWith('layer ')) {
      throw new ModelFileError(file, `${blame} cannot be built from its config: ${message}`);
    }
    throw new ModelFileError(file, `is not a loadable layers model: ${message}`);
  }
}

/**
 * tfjs's message for a layer called on too many inputs lists them as `[object Object]`; the file's
 * side of it (which layer, which field) says more.
 */
function clearMessage(message: string): string {
  const m = /^Layer (\S+) expects (\d+) inputs?, but it received (\d+) input tensors?\./.exec(message);
  if (m == null) return message.replace(/\[object Object\]/g, '{...}');
  return `layer '${m[1]}' takes ${m[2]} input(s), but its inbound_nodes entry in the file connects ${m[3]}; ` +
    'expected as many references as the layer takes inputs.';
}

/** Every layer's output, per sample, must fit in memory (tfjs would fail with a bare allocation error). */
function checkActivations(model: tf.LayersModel, file: string, maxValues: number): void {
  const stack: tf.layers.Layer[] = [...model.layers];
  while (stack.length > 0) {
    const layer = stack.pop()!;
    if (layer instanceof tf.LayersModel) stack.push(...layer.layers);
    let shapes: tf.Shape[];
    try {
      const out = layer.outputShape;
      shapes = Array.isArray(out[0]) || out.length === 0 ? out as tf.Shape[] : [out as tf.Shape];
    } catch {
      // A layer called more than once with different shapes has no single output shape.
      continue;
    }
    for (const shape of shapes) {
      // A batch size the model fixes counts too: every call has that batch.
      const values = shape.reduce<number>((a, d) => a * (d ?? 1), 1);
      if (values > maxValues) {
        const per = shape[0] == null ? 'per sample' : `for its fixed batch of ${shape[0]}`;
        throw new ModelFileError(file, `layer '${layer.name}' (${layer.getClassName()}) outputs shape ` +
          `${JSON.stringify(shape)}: ${values} values (${(values * 4 / 2 ** 30).toFixed(1)} GiB as float32) ${per}, ` +
          `more than the limit of ${maxValues} (raise it with the maxActivationValues option); there would not ` +
          'be memory to run it.');
      }
    }
  }
}

/**
 * Compiles the model with the file's training config, as tfjs does after loading; a config tfjs
 * cannot use becomes a ModelFileError that names its fields.
 */
function loadTrainingConfig(model: tf.LayersModel, config: unknown, file: string): void {
  const expected = 'expected {"loss": a loss tfjs knows, "optimizer_config": {"class_name": an optimizer tfjs knows, ' +
    '"config": {...}}}, or no trainingConfig (it is used only to resume training)';
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v != null && !Array.isArray(v);
  if (!isObj(config)) throw new ModelFileError(file, `"trainingConfig" is ${JSON.stringify(config)?.slice(0, 60)}; ${expected}.`);
  const optimizer = config['optimizer_config'];
  if (!isObj(optimizer) || typeof optimizer['class_name'] !== 'string' || !isObj(optimizer['config'])) {
    throw new ModelFileError(file, `"trainingConfig.optimizer_config" is ${JSON.stringify(optimizer)?.slice(0, 60)}; ${expected}.`);
  }
  const loss = config['loss'];
  const names = typeof loss === 'string' ? [loss] : Array.isArray(loss) ? loss : isObj(loss) ? Object.values(loss) : [loss];
  if (!names.every((n) => typeof n === 'string')) {
    throw new ModelFileError(file, `"trainingConfig.loss" is ${JSON.stringify(loss)?.slice(0, 60)}; ${expected}.`);
  }
  type LayersTrainingConfig = Parameters<tf.LayersModel['loadTrainingConfig']>[0];
  try {
    model.loadTrainingConfig(config as unknown as LayersTrainingConfig);
  } catch (e) {
    // tfjs looks optimizers up among serializable classes and calls every unknown one a layer.
    const problem = (e as Error).message.split('\n')[0].replace(/^Unknown layer: (.*?)\. .*$/, 'unknown optimizer $1');
    throw new ModelFileError(file, `"trainingConfig" (loss ${JSON.stringify(loss)}, optimizer ` +
      `${JSON.stringify(optimizer['class_name'])}) cannot be loaded: ${problem}; ${expected}.`);
  }
}

/** The model's weights and the manifest must name the same weights with the same shapes. */
function checkWeightsMatch(model: tf.LayersModel, specs: tf.io.WeightsManifestEntry[], file: string): void {
  const wanted = new Map(model.weights.map((w) => [w.originalName, w.shape]));
  const dtypes = new Map(model.weights.map((w) => [w.originalName, w.dtype]));
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const spec of specs) {
    seen.add(spec.name);
    const shape = wanted.get(spec.name);
    if (shape == null) problems.push(`the manifest has weight "${spec.name}", which no layer of the model creates`);
    else if (JSON.stringify(shape) !== JSON.stringify(spec.shape)) {
      problems.push(`weight "${spec.name}" has shape ${JSON.stringify(spec.shape)} in the manifest, but the layer ` +
        `config gives ${JSON.stringify(shape)}`);
    } else if (dtypes.get(spec.name) !== spec.dtype) {
      problems.push(`weight "${spec.name}" has dtype ${spec.dtype} in the manifest, but the layer creates it as ` +
        `${dtypes.get(spec.name)}`);
    }
  }
  for (const name of wanted.keys()) if (!seen.has(name)) problems.push(`the manifest lacks weight "${name}"`);
  if (problems.length > 0) {
    const more = problems.length > 3 ? ` (and ${problems.length - 3} more)` : '';
    throw new ModelFileError(file, `the weights manifest does not match the model: ${problems.slice(0, 3).join('; ')}${more}.`);
  }
}
