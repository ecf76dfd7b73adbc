/**
 * Keras 3 inbound nodes -> Keras 2's. Keras 3 saves each call of a layer as
 * `{"args": [...], "kwargs": {...}}` with every input as
 * `{"class_name": "__keras_tensor__", "config": {"keras_history": [layer, node, tensor]}}` (merge
 * layers get a list of them); Keras 2 and TF.js read a list of `[layer, node, tensor, kwargs]`.
 */
import { isObject, Json, KerasFormatError, show } from './json';
import type { Where } from './layers';

type Ref = [string, number, number];

function historyOf(value: unknown): Ref | null {
  if (!isObject(value) || value['class_name'] !== '__keras_tensor__' || !isObject(value['config'])) return null;
  const history = value['config']['keras_history'];
  if (!Array.isArray(history) || history.length !== 3 || typeof history[0] !== 'string') {
    throw new KerasFormatError(`expected a keras_history [layer, node, tensor], but found ${show(history)}.`);
  }
  return history as Ref;
}

/** The tensors in a (nested) argument structure, in Keras's flattening order (dict keys sorted). */
function tensorsIn(value: unknown, out: Ref[] = []): Ref[] {
  const ref = historyOf(value);
  if (ref != null) out.push(ref);
  else if (Array.isArray(value)) value.forEach((v) => tensorsIn(v, out));
  else if (isObject(value)) Object.keys(value).sort().forEach((k) => tensorsIn(value[k], out));
  return out;
}

/** True for a Keras 3 node (`{args, kwargs}`), false for a Keras 2 one (a list). */
export function isKeras3Node(node: unknown): node is Json {
  return isObject(node) && ('args' in node || 'kwargs' in node);
}

/**
 * One inbound node in Keras 2's form. A `mask` keyword argument is dropped when Keras filled it in
 * from the input's own mask (its tensor comes from an op inside a layer's compute_mask, not from a
 * layer of the model): TF.js propagates that mask itself. Any other tensor passed as a keyword
 * argument, and a non-tensor positional argument, cannot be expressed in TF.js and is refused.
 *
 * Usage: `layer.inbound_nodes = layer.inbound_nodes.map((n) => translateNode(n, where, names));`
 */
export function translateNode(node: unknown, where: Where, layerNames: Set<string>): unknown {
  if (!isKeras3Node(node)) return node;
  const fail = (problem: string) => new KerasFormatError(problem, where.layer, where.className);
  const args = Array.isArray(node['args']) ? node['args'] : [];
  const refs: Ref[] = [];
  args.forEach((arg, i) => {
    const found = tensorsIn(arg);
    if (found.length === 0 && arg != null) {
      throw fail(`call argument ${i} is ${show(arg)}, not a tensor; TF.js layers take only tensors as positional arguments.`);
    }
    refs.push(...found);
  });
  const kwargs: Json = {};
  const rawKwargs = isObject(node['kwargs']) ? node['kwargs'] : {};
  for (const [key, value] of Object.entries(rawKwargs)) {
    if (value == null) continue;
    const tensors = tensorsIn(value);
    if (tensors.length === 0) {
      kwargs[key] = value;
      continue;
    }
    const fromLayers = tensors.filter((t) => layerNames.has(t[0]));
    if (key === 'mask' && fromLayers.length === 0) continue;
    throw fail(`its call passes the tensor ${show(tensors[0])} as keyword argument '${key}'; TF.js cannot pass ` +
      'tensors by keyword (masks propagate from the layer that makes them, as in Keras).');
  }
  if (refs.length === 0) throw fail(`inbound node ${show(node)} has no input tensor.`);
  return refs.map((r) => [r[0], r[1], r[2], kwargs]);
}
