/**
 * BatchNormalization folding: each BN (stock or custom) that directly follows a linear
 * Conv/Dense layer whose output feeds nothing else is merged into that layer's kernel and bias
 * and removed from the graph. Everything else (Adds, padding, nested models) stays as it was.
 */
import * as tf from '@tensorflow/tfjs';
// Rebuilding a model from its config needs every class of the package registered.
import '../layer/all';
import { batchNormWeightNames } from '../core/batch_norm_config';
import { BatchNormValues, foldIntoKernel, kernelLayout } from './fold_math';
import { ALIAS_BN, bakesTraining, configAxis, CUSTOM_BN, isModelConfig, LayerConfig, layerName, ModelConfig, STOCK_BN, walkLayers, walkModels } from './model_config';
import { leafLayers, pathKey, rebuildModel, topologyOf } from './rebuild';
import { stockAxisProblem } from './stock_axis';
import { toStockForm } from './stock_features';

export interface FoldedBatchNorm {
  /** Path (model names, then layer name) of the removed BN layer. */
  batchNorm: string[];
  /** Path of the layer it was folded into. */
  into: string[];
  intoClass: string;
}

export interface KeptBatchNorm {
  batchNorm: string[];
  /** Why it could not be folded. */
  reason: string;
}

export interface FoldResult {
  model: tf.LayersModel;
  folded: FoldedBatchNorm[];
  kept: KeptBatchNorm[];
}

export interface FoldOptions {
  /**
   * Turn custom BNs that stay (unfoldable) into tfjs's built-in class so the result loads in
   * plain tfjs. Default true. BNs on a non-last axis stay custom (tfjs's built-in computes
   * them wrongly); their report entry says so.
   */
  keptToStock?: boolean;
}

const CUSTOM_CLASSES = [CUSTOM_BN, ...ALIAS_BN];
const BN_CLASSES = [STOCK_BN, ...CUSTOM_CLASSES];
const FOLDABLE = ['Dense', 'Conv1D', 'Conv2D', 'Conv3D', 'DepthwiseConv2D', 'SeparableConv2D', 'Conv2DTranspose'];

type InboundRef = [string, number, number, unknown?];
type Layers = Map<string, tf.layers.Layer>;

interface Plan {
  model: ModelConfig;
  bn: LayerConfig;
  producer: LayerConfig;
  /** The BN's own input reference (functional models), which replaces references to the BN. */
  input: InboundRef | null;
  path: string[];
}

function isRef(x: unknown): x is InboundRef {
  return Array.isArray(x) && typeof x[0] === 'string' && Number.isInteger(x[1]) && Number.isInteger(x[2]);
}

/** The single input reference of a functional-model layer, or a reason why there is none. */
function singleInput(layer: LayerConfig): InboundRef | string {
  const nodes = layer.inbound_nodes;
  if (!Array.isArray(nodes) || nodes.length !== 1) {
    return `it is called ${Array.isArray(nodes) ? nodes.length : 0} times (shared layers are not folded)`;
  }
  const node = nodes[0];
  if (!Array.isArray(node) || node.length !== 1 || !isRef(node[0])) return 'its inbound node is not a single tensor';
  return node[0];
}

/** How many times each layer's output is used in a functional model (model outputs count). */
function consumerCounts(model: ModelConfig): Map<string, number> {
  const counts = new Map<string, number>();
  const count = (ref: unknown) => { if (isRef(ref)) counts.set(ref[0], (counts.get(ref[0]) ?? 0) + 1); };
  for (const layer of model.config.layers) {
    for (const node of layer.inbound_nodes ?? []) if (Array.isArray(node)) node.forEach(count);
  }
  (model.config.output_layers ?? []).forEach(count);
  return counts;
}

/** Why `producer` cannot absorb `bn`, or null if it can. */
function producerProblem(producer: LayerConfig, bn: LayerConfig, producerLayer: tf.layers.Layer | undefined): string | null {
  const name = `'${layerName(producer)}'`;
  if (isModelConfig(producer) || !FOLDABLE.includes(producer.class_name)) {
    return `its input comes from ${producer.class_name} ${name}, not from a ${FOLDABLE.join('/')} layer`;
  }
  const activation = producer.config['activation'];
  if (activation != null && activation !== 'linear') {
    return `${producer.class_name} ${name} applies activation '${String(activation)}' before the BN`;
  }
  const rank = producerLayer == null ? null : (producerLayer.outputShape as tf.Shape).length;
  const axis = configAxis(bn);
  if (rank == null || axis == null) return `the BN axis or the rank of ${name}'s output is unknown`;
  const channelAxis = producer.config['data_format'] === 'channels_first' ? 1 : rank - 1;
  if ((axis + rank) % rank !== channelAxis) {
    return `the BN normalizes axis ${axis}, but ${name}'s output channels are on axis ${channelAxis}`;
  }
  return null;
}

/** Finds the foldable BNs of one (sub)model config, recording the others in `kept`. */
function planModel(model: ModelConfig, path: string[], layers: Layers, kept: KeptBatchNorm[]): Plan[] {
  const plans: Plan[] = [];
  const list = model.config.layers;
  const sequential = model.class_name === 'Sequential';
  const byName = new Map(list.map((l) => [layerName(l), l]));
  const consumers = sequential ? null : consumerCounts(model);
  list.forEach((bn, i) => {
    if (!BN_CLASSES.includes(bn.class_name)) return;
    const bnPath = [...path, layerName(bn)];
    const keep = (reason: string) => { kept.push({ batchNorm: bnPath, reason }); };
    let producer: LayerConfig | undefined;
    let input: InboundRef | null = null;
    if (sequential) {
      producer = list[i - 1];
      if (producer == null) return keep(`it is the first layer of '${path[path.length - 1]}', its input comes from outside`);
    } else {
      const ref = singleInput(bn);
      if (typeof ref === 'string') return keep(ref);
      if (bakesTraining(bn) && bn.config['trainable'] !== false) {
        return keep('its call was saved with training=true, so it normalizes with batch statistics, not the moving ones');
      }
      input = ref;
      producer = byName.get(ref[0]);
      if (producer == null) return keep(`its input '${ref[0]}' is not a layer of '${path[path.length - 1]}'`);
      const producerInput = singleInput(producer);
      if (typeof producerInput === 'string' && FOLDABLE.includes(producer.class_name)) {
        return keep(`'${ref[0]}': ${producerInput}`);
      }
      const uses = consumers!.get(ref[0]) ?? 0;
      if (uses !== 1) return keep(`the output of '${ref[0]}' also feeds ${uses - 1} other layer(s) or model output(s)`);
    }
    const problem = producerProblem(producer, bn, layers.get(pathKey([...path, layerName(producer)])));
    if (problem != null) return keep(problem);
    plans.push({ model, bn, producer, input, path });
  });
  return plans;
}

/** Removes the planned BNs from their model configs, routing their consumers to the producer. */
function removeBatchNorms(plans: Plan[]): void {
  for (const plan of plans) {
    const bnName = layerName(plan.bn);
    const layersList = plan.model.config.layers;
    layersList.splice(layersList.indexOf(plan.bn), 1);
    plan.producer.config['use_bias'] = true;
    if (plan.input == null) continue;
    const [producerName, node, tensor] = plan.input;
    const reroute = (ref: unknown) => (isRef(ref) && ref[0] === bnName ? [producerName, node, tensor, ...ref.slice(3)] : ref);
    for (const layer of layersList) {
      layer.inbound_nodes = layer.inbound_nodes?.map((n) => (Array.isArray(n) ? n.map(reroute) : n));
    }
    if (plan.model.config.output_layers != null) plan.model.config.output_layers = plan.model.config.output_layers.map(reroute);
  }
}

/** The BN's values, or why they cannot be folded (a hostile or broken file can hold anything). */
function bnValues(bn: LayerConfig, layer: tf.layers.Layer): BatchNormValues | string {
  const weights = layer.getWeights().map((w) => w.dataSync() as Float32Array);
  const named = new Map(batchNormWeightNames(bn.config).map((name, i) => [name, weights[i]]));
  const gamma = named.get('gamma') ?? null;
  const beta = named.get('beta') ?? null;
  const epsilon = bn.config['epsilon'] ?? 1e-3;
  if (typeof epsilon !== 'number' || !Number.isFinite(epsilon) || epsilon < 0) {
    return `its epsilon is ${JSON.stringify(epsilon)}, not a finite number >= 0`;
  }
  const values = { gamma, beta, mean: named.get('moving_mean')!, variance: named.get('moving_variance')!, epsilon };
  for (const [name, v] of [['gamma', gamma], ['beta', beta], ['moving_mean', values.mean], ['moving_variance', values.variance]] as const) {
    if (v != null && !v.every(Number.isFinite)) return `its ${name} holds non-finite values`;
  }
  if (!values.variance.every((v) => v + epsilon > 0)) return 'its moving_variance + epsilon is not positive everywhere';
  return values;
}

/** New weights of the producer layer in its own order: [depthwise?], kernel, bias. */
function foldedWeights(plan: Plan, layers: Layers): tf.Tensor[] | string {
  const producerLayer = layers.get(pathKey([...plan.path, layerName(plan.producer)]))!;
  const bnLayer = layers.get(pathKey([...plan.path, layerName(plan.bn)]))!;
  const weights = producerLayer.getWeights();
  const kernelIndex = plan.producer.class_name === 'SeparableConv2D' ? 1 : 0;
  const kernel = weights[kernelIndex];
  const layout = kernelLayout(plan.producer.class_name, kernel.shape);
  const bn = bnValues(plan.bn, bnLayer);
  if (typeof bn === 'string') return bn;
  if (layout == null || layout.channels !== bn.mean.length) {
    return `the kernel of '${layerName(plan.producer)}' has ${layout?.channels} output channels, the BN ${bn.mean.length}`;
  }
  const bias = weights.length > kernelIndex + 1 ? weights[kernelIndex + 1].dataSync() as Float32Array : null;
  const folded = foldIntoKernel(kernel.dataSync() as Float32Array, layout, bias, bn);
  return [...weights.slice(0, kernelIndex), tf.tensor(folded.kernel, kernel.shape), tf.tensor1d(folded.bias)];
}

/**
 * Folds every foldable BatchNormalization into the Conv/Dense layer before it and returns the
 * new model with a report of what was folded and what was kept (and why). The input model is
 * not changed. The result predicts the same up to float32 rounding.
 *
 * Usage: `const { model: fast, folded, kept } = await foldBatchNorm(model);`
 */
export async function foldBatchNorm(model: tf.LayersModel, options: FoldOptions = {}): Promise<FoldResult> {
  const layers = leafLayers(model);
  const topology = topologyOf(model);
  const kept: KeptBatchNorm[] = [];
  const plans: Plan[] = [];
  walkModels(topology, (m, path) => plans.push(...planModel(m, path, layers, kept)));
  const replacement = new Map<string, tf.Tensor[]>();
  const created: tf.Tensor[] = [];
  const folding = plans.filter((plan) => {
    const weights = foldedWeights(plan, layers);
    if (typeof weights === 'string') {
      kept.push({ batchNorm: [...plan.path, layerName(plan.bn)], reason: weights });
      return false;
    }
    replacement.set(pathKey([...plan.path, layerName(plan.producer)]), weights);
    created.push(...weights.slice(-2));
    return true;
  });
  removeBatchNorms(folding);
  if (options.keptToStock !== false) {
    walkLayers(topology, (layer, path) => {
      if (!CUSTOM_CLASSES.includes(layer.class_name)) return;
      const problem = stockAxisProblem(layer, layers.get(pathKey(path))) ??
        (bakesTraining(layer) && layer.config['trainable'] !== false ? 'its call was saved with training=true, which ' +
          'tfjs\'s built-in ignores' : null);
      if (problem == null) layer.class_name = STOCK_BN;
      // Kept for inference: renorm / ghost-batch settings (training only) are dropped.
      const stock = problem == null ? toStockForm(layer, layers.get(pathKey(path))) : null;
      if (stock != null) {
        replacement.set(pathKey(path), stock.weights);
        created.push(...stock.weights);
      }
      const entry = kept.find((k) => pathKey(k.batchNorm) === pathKey(path));
      if (problem != null && entry != null) entry.reason += `; left as ${layer.class_name} because ${problem}`;
    });
  }
  try {
    const result = await rebuildModel(topology, model, replacement);
    const folded = folding.map((p) => ({
      batchNorm: [...p.path, layerName(p.bn)], into: [...p.path, layerName(p.producer)], intoClass: p.producer.class_name,
    }));
    return { model: result, folded, kept };
  } finally {
    tf.dispose(created);
  }
}
