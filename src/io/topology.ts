/**
 * Checks a layers-model topology before tfjs builds it. tfjs rebuilds a functional model by
 * retrying layer calls until every input exists, so a reference to a missing layer or node, an
 * empty inbound node, a cycle, or a layer whose config names it differently from its entry makes
 * it loop forever; these checks turn such files into a ModelFileError instead. They also refuse
 * what tfjs would fail on with an unclear message or a leak: layer names tfjs does not accept as
 * tensor names or that collide with JavaScript object properties, and inputs of a rank tfjs's
 * predict cannot slice into batches.
 */
import { MODEL_CLASSES } from '../core/class_names';
import { ModelFileError } from './errors';

type Json = Record<string, unknown>;

/**
 * Default limit on the layers of one model, nested models included: far above real models (a
 * ResNet-152 has about 500), low enough that building them takes seconds, not minutes.
 */
export const DEFAULT_MAX_LAYERS = 20000;

/**
 * Default limit on the longest chain of layers one after another (nested models' chains added).
 * tfjs builds and runs a model by recursing along its chains, so a longer chain overflows the
 * call stack in load or predict (see docs/safety.md for where that happens); this keeps about
 * half of that as margin, and far above real models (a ResNet-152's longest chain is about 500).
 */
export const DEFAULT_MAX_DEPTH = 2000;

/** The names tfjs accepts for tensors and weights (tfjs-layers' tensor name rule). */
const VALID_NAME = /^[A-Za-z0-9][-A-Za-z0-9._/]*$/;

/**
 * tfjs's predict splits inputs into batches for ranks 1 to 6 only (batch axis included); a model
 * with a higher-rank input loads and then cannot predict.
 */
export const MAX_INPUT_RANK = 6;

/**
 * Initializers and the numbers in their configs. The loader runs none, but tools that rebuild a
 * loaded model do, and tfjs's truncated normal loops forever on a NaN standard deviation (a
 * `scale` that is a list, say).
 */
const INITIALIZERS = ['Constant', 'RandomUniform', 'RandomNormal', 'TruncatedNormal', 'Identity', 'VarianceScaling',
  'Orthogonal'];
/**
 * Every initializer, constraint and regularizer tfjs has, by name without underscores in lower
 * case (glorot_uniform and GlorotUniform are both glorotuniform).
 */
const OBJECT_NAMES = {
  initializer: new Set(['constant', 'glorotnormal', 'glorotuniform', 'henormal', 'heuniform', 'identity', 'lecunnormal',
    'lecununiform', 'ones', 'orthogonal', 'randomnormal', 'randomuniform', 'truncatednormal', 'variancescaling', 'zeros']),
  constraint: new Set(['maxnorm', 'minmaxnorm', 'nonneg', 'unitnorm']),
  regularizer: new Set(['l1', 'l2', 'l1l2']),
};
const EXAMPLE = { initializer: 'glorot_uniform', constraint: 'non_neg', regularizer: 'l2' };
const INITIALIZER_NUMBERS: Record<string, 'positive' | 'non-negative' | 'finite'> = {
  scale: 'positive', stddev: 'non-negative', mean: 'finite', minval: 'finite', maxval: 'finite', gain: 'finite',
  value: 'finite',
};

/** tfjs's tensor data types (a Keras 3 DTypePolicy object is translated before this check). */
const DTYPES = ['float32', 'int32', 'bool', 'complex64', 'string'];

const SHAPE_KEYS = ['batch_input_shape', 'batchInputShape', 'input_shape', 'inputShape', 'batch_shape'];

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value != null && !Array.isArray(value);
}

const FUNCTIONAL = MODEL_CLASSES.filter((c) => c !== 'Sequential');

/** [layer name, node index, tensor index, kwargs?] */
type Ref = [string, number, number];

function asRef(x: unknown): Ref | null {
  if (!Array.isArray(x) || x.length < 3 || x.length > 4 || typeof x[0] !== 'string') return null;
  if (!Number.isInteger(x[1]) || (x[1] as number) < 0 || !Number.isInteger(x[2]) || (x[2] as number) < 0) return null;
  return x as unknown as Ref;
}

/**
 * Throws ModelFileError (naming `file`) if any functional model in `topology`, nested ones
 * included, references a layer or node that does not exist, or has a cycle, or if the model has
 * more than `maxLayers` layers in all.
 *
 * Usage: `checkTopology(modelJson.modelTopology, 'm/model.json');`
 */
export function checkTopology(topology: unknown, file: string, maxLayers = DEFAULT_MAX_LAYERS,
  maxDepth = DEFAULT_MAX_DEPTH): void {
  // Walk every object in the topology (wrappers and nested models hold layer configs anywhere).
  let layerCount = 0;
  // The sum of every model's longest chain: at least the longest chain through nested models.
  let depth = 0;
  // Each value with the layer it belongs to, for messages.
  const stack: [unknown, string][] = [[topology, 'the model']];
  while (stack.length > 0) {
    const [value, owner] = stack.pop()!;
    if (Array.isArray(value)) {
      // One by one: spreading a list of millions of items would overflow the call stack.
      for (const item of value) if (typeof item === 'object' && item != null) stack.push([item, owner]);
    } else if (isObject(value)) {
      const cls = value['class_name'] ?? value['className'];
      const config = value['config'];
      const named = typeof cls === 'string' && isObject(config) && typeof config['name'] === 'string';
      const within = named ? `layer ${JSON.stringify(config['name'])} (${cls})` : owner;
      if (typeof cls === 'string' && MODEL_CLASSES.includes(cls) && isObject(config) && config['name'] != null &&
        typeof config['name'] !== 'string') {
        throw new ModelFileError(file, `a ${cls} model's config.name is ${JSON.stringify(config['name'])?.slice(0, 60)}; ` +
          'expected a string.');
      }
      if (typeof cls === 'string' && MODEL_CLASSES.includes(cls) && isObject(config) && !Array.isArray(config['layers'])) {
        throw new ModelFileError(file, `model ${JSON.stringify(config['name'] ?? '(unnamed)')} (${cls}): "layers" is ` +
          `${JSON.stringify(config['layers'])?.slice(0, 60) ?? 'missing'}; expected a list of layer configs.`);
      }
      if (typeof cls === 'string' && MODEL_CLASSES.includes(cls) && isObject(config) && Array.isArray(config['layers'])) {
        layerCount += config['layers'].length;
        if (layerCount > maxLayers) {
          throw new ModelFileError(file, `has more than ${maxLayers} layers (nested models included), the limit for one ` +
            'model (raise it with the maxLayers option); tfjs takes minutes to build that many.');
        }
      }
      if (typeof cls === 'string' && MODEL_CLASSES.includes(cls) && isObject(config) && Array.isArray(config['layers'])) {
        depth += FUNCTIONAL.includes(cls) ? checkFunctional(config, file) : config['layers'].length;
        if (depth > maxDepth) {
          throw new ModelFileError(file, `has a chain of more than ${maxDepth} layers one after another (nested models ` +
            'included), the limit for one model (raise it with the maxDepth option); tfjs recurses along such ' +
            'chains and would overflow the call stack when building or running the model.');
        }
      }
      if (typeof cls === 'string' && INITIALIZERS.includes(cls) && isObject(config)) checkInitializer(cls, config, owner, file);
      // Layer entries: those of a model's `layers` list, and the layer a wrapper holds.
      if (isObject(config)) {
        if (Array.isArray(config['layers'])) for (const entry of config['layers']) checkEntry(entry, file);
        checkEntry(config['layer'], file);
      }
      for (const [key, item] of Object.entries(value)) {
        if (typeof item === 'object' && item != null) stack.push([item, key === 'config' || key === 'layers' ? within : `${within}: ${key}`]);
      }
    }
  }
}

function checkInitializer(cls: string, config: Json, where: string, file: string): void {
  for (const [key, kind] of Object.entries(INITIALIZER_NUMBERS)) {
    const v = config[key];
    if (v == null) continue;
    const ok = typeof v === 'number' && Number.isFinite(v) && (kind === 'finite' || (kind === 'positive' ? v > 0 : v >= 0));
    if (!ok) {
      throw new ModelFileError(file, `${where} is a ${cls} initializer with ${key} ${JSON.stringify(v)?.slice(0, 40)}; expected a ` +
        `${kind === 'finite' ? 'finite' : kind} number.`);
    }
  }
}

function checkEntry(entry: unknown, file: string): void {
  const cls = isObject(entry) ? entry['class_name'] ?? entry['className'] : null;
  if (isObject(entry) && typeof cls === 'string' && isObject(entry['config'])) checkLayerConfig(cls, entry['config'], file);
}

/** The layer's name and input shape, in any layer config (nested ones and wrapped ones too). */
function checkLayerConfig(cls: string, config: Json, file: string): void {
  const name = config['name'];
  const layer = `layer ${JSON.stringify(name ?? '(unnamed)')} (${cls})`;
  if (name != null) {
    if (typeof name !== 'string') {
      throw new ModelFileError(file, `${layer}: config.name is ${JSON.stringify(name)}; expected a string.`);
    }
    checkName(name, `${layer}: config.name`, file);
  }
  // tfjs deserializes whatever class an initializer, constraint or regularizer field names, a
  // layer too, and calls it.
  for (const [key, value] of Object.entries(config)) {
    const kind = /(initializer|constraint|regularizer)$/i.exec(key)?.[1].toLowerCase() as keyof typeof OBJECT_NAMES | undefined;
    if (kind == null || value == null) continue;
    const name = typeof value === 'string' ? value : isObject(value) ? value['class_name'] ?? value['className'] : value;
    if (typeof name !== 'string' || !OBJECT_NAMES[kind].has(name.replace(/_/g, '').toLowerCase())) {
      throw new ModelFileError(file, `${layer}: config.${key} is ${JSON.stringify(value)?.slice(0, 60)}; expected ` +
        `${kind === 'initializer' ? 'an' : 'a'} ${kind} tfjs has (a name such as "${EXAMPLE[kind]}", or ` +
        '{"class_name", "config"}).');
    }
  }
  const dtype = config['dtype'];
  if (dtype != null && !(typeof dtype === 'string' && DTYPES.includes(dtype))) {
    throw new ModelFileError(file, `${layer}: config.dtype is ${JSON.stringify(dtype)?.slice(0, 60)}; expected one of ` +
      `${DTYPES.join(', ')}.`);
  }
  for (const key of SHAPE_KEYS) {
    const shape = config[key];
    if (shape == null) continue;
    const batch = key.startsWith('batch') ? 1 : 0;
    if (!Array.isArray(shape) || shape.length === 0 ||
      !shape.every((d) => d === null || (Number.isInteger(d) && d >= 0))) {
      throw new ModelFileError(file, `${layer}: config.${key} is ${JSON.stringify(shape)?.slice(0, 80)}; expected a ` +
        'list of non-negative integers, or null for a size not fixed.');
    }
    if (shape.length + 1 - batch > MAX_INPUT_RANK) {
      throw new ModelFileError(file, `${layer}: config.${key} ${JSON.stringify(shape)} gives inputs of rank ` +
        `${shape.length + 1 - batch} (batch included); tfjs runs models on inputs of rank 1 to ${MAX_INPUT_RANK}.`);
    }
  }
}

/**
 * A layer name must be one tfjs accepts for the tensors and weights it names, and must not be a
 * property every JavaScript object has (tfjs keeps layers by name in plain objects, where
 * `constructor` or `toString` would find the inherited function instead).
 */
function checkName(name: string, where: string, file: string): void {
  if (!VALID_NAME.test(name)) {
    throw new ModelFileError(file, `${where} is ${JSON.stringify(name)}; expected a name tfjs accepts: a letter or ` +
      "digit, then letters, digits, '-', '_', '.' or '/'.");
  }
  if (name in Object.prototype) {
    throw new ModelFileError(file, `${where} is ${JSON.stringify(name)}, the name of a property every JavaScript ` +
      'object has, which tfjs cannot use as a layer name; expected another name.');
  }
}

/** Checks a functional model's graph; returns its longest chain of layer calls. */
function checkFunctional(config: Json, file: string): number {
  const modelName = typeof config['name'] === 'string' ? config['name'] : '(unnamed)';
  const fail = (problem: string) => new ModelFileError(file, `model '${modelName}': ${problem}`);
  const layers = config['layers'];
  if (!Array.isArray(layers)) throw fail('expected "layers" to be a list of layer configs.');
  // Node count per layer name: an InputLayer has its one node from the start; a nested model
  // gets one when it is built, plus one per call.
  const nodeCounts = new Map<string, number>();
  const inbound = new Map<string, unknown[]>();
  for (const [i, layer] of layers.entries()) {
    if (!isObject(layer) || typeof layer['name'] !== 'string') {
      throw fail(`layers[${i}] must be an object with a string "name", but is ${JSON.stringify(layer)?.slice(0, 60)}.`);
    }
    const name = layer['name'];
    checkName(name, `layers[${i}].name`, file);
    if (nodeCounts.has(name)) throw fail(`two layers are named '${name}'; layer names must be unique.`);
    // tfjs connects layers by the outer name and queues their calls by the config's name.
    const inner = isObject(layer['config']) ? layer['config']['name'] : undefined;
    if (inner != null && inner !== name) {
      throw fail(`layers[${i}] is named '${name}' but its config names it ${JSON.stringify(inner)}; expected the same ` +
        'name in both.');
    }
    const nodes = layer['inbound_nodes'] ?? layer['inboundNodes'] ?? [];
    if (!Array.isArray(nodes)) throw fail(`layer '${name}': expected "inbound_nodes" to be a list.`);
    const cls = layer['class_name'] ?? layer['className'];
    const extra = cls === 'InputLayer' || (typeof cls === 'string' && MODEL_CLASSES.includes(cls)) ? 1 : 0;
    nodeCounts.set(name, nodes.length + extra);
    inbound.set(name, nodes);
  }
  const checkRef = (x: unknown, where: string): Ref => {
    const ref = asRef(x);
    if (ref == null) {
      throw fail(`${where}: expected a reference [layer_name, node_index, tensor_index], but found ` +
        `${JSON.stringify(x)?.slice(0, 80)}.`);
    }
    const count = nodeCounts.get(ref[0]);
    if (count == null) throw fail(`${where} refers to layer '${ref[0]}', which does not exist in this model.`);
    if (ref[1] >= count) {
      throw fail(`${where} refers to node ${ref[1]} of layer '${ref[0]}', which has only ${count} node(s).`);
    }
    return ref;
  };
  // Dependencies between (layer, node) pairs; node k of a layer also waits for its node k - 1,
  // because tfjs numbers a layer's nodes in the order it creates them.
  const deps = new Map<string, string[]>();
  for (const [name, nodes] of inbound) {
    nodes.forEach((node, k) => {
      if (!Array.isArray(node)) throw fail(`layer '${name}': inbound node ${k} must be a list of references.`);
      if (node.length === 0) {
        throw fail(`layer '${name}': inbound node ${k} is empty; expected at least one reference ` +
          '[layer_name, node_index, tensor_index].');
      }
      // Entry k is the layer's node k + offset: a nested model's node 0 is its own input node.
      const offset = (nodeCounts.get(name) ?? 0) - nodes.length;
      const key = `${name}\u0000${k + offset}`;
      const refs = node.map((x, j) => checkRef(x, `layer '${name}' inbound node ${k} input ${j}`));
      const list = refs.map((r) => `${r[0]}\u0000${r[1]}`);
      if (k > 0) list.push(`${name}\u0000${k - 1 + offset}`);
      deps.set(key, list);
    });
  }
  for (const key of ['input_layers', 'output_layers', 'inputLayers', 'outputLayers']) {
    const refs = config[key];
    if (refs == null) continue;
    if (!Array.isArray(refs)) throw fail(`expected "${key}" to be a list of references.`);
    refs.forEach((r, i) => checkRef(r, `${key}[${i}]`));
  }
  const { cycle, longest } = walkGraph(deps);
  if (cycle != null) {
    throw fail(`the layer graph has a cycle (${cycle.map((k) => k.split('\u0000')[0]).join(' -> ')}); ` +
      'expected each layer to depend only on earlier ones.');
  }
  return longest;
}

/**
 * A cycle in the dependency graph as a list of keys (or null), and the longest chain of
 * dependencies. Iterative: deep graphs do not overflow.
 */
function walkGraph(deps: Map<string, string[]>): { cycle: string[] | null; longest: number } {
  const state = new Map<string, 1 | 2>(); // 1 = on the current path, 2 = done
  const chain = new Map<string, number>(); // longest chain ending at a done node
  let longest = 0;
  for (const start of deps.keys()) {
    if (state.has(start)) continue;
    const path: string[] = [start];
    const next: number[] = [0];
    state.set(start, 1);
    while (path.length > 0) {
      const node = path[path.length - 1];
      const children = deps.get(node) ?? [];
      const i = next[next.length - 1]++;
      if (i >= children.length) {
        state.set(node, 2);
        const length = 1 + children.reduce((m, c) => Math.max(m, chain.get(c) ?? 0), 0);
        chain.set(node, length);
        longest = Math.max(longest, length);
        path.pop();
        next.pop();
        continue;
      }
      const child = children[i];
      const s = state.get(child);
      if (s === 1) return { cycle: [...path.slice(path.indexOf(child)), child], longest };
      if (s == null && !deps.has(child)) {
        // An input layer's node: no call of a layer, so not part of a chain.
        state.set(child, 2);
        chain.set(child, 0);
      } else if (s == null) {
        state.set(child, 1);
        path.push(child);
        next.push(0);
      }
    }
  }
  return { cycle: null, longest };
}
