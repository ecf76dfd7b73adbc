/**
 * The BatchNormalization arguments for batch renormalization (Keras `renorm`, `renorm_clipping`,
 * `renorm_momentum`) and ghost batches (tf.keras 2 `virtual_batch_size`): their types, checks
 * with Keras's rules, defaults, and the config keys they are saved under.
 */
import type { RenormClipping } from '../ops/renorm';

/** The constructor arguments (camelCase, as tfjs configs hold them once loaded). */
export interface RenormArgs {
  /** Batch renormalization in training (Ioffe 2017). Default false. */
  renorm?: boolean;
  /** `{rmax, rmin, dmax}` bounds of the correction; missing (or null) ones do not clip. */
  renormClipping?: { rmax?: number | null; rmin?: number | null; dmax?: number | null } | null;
  /** Momentum of renorm_mean / renorm_stddev. Default 0.99. */
  renormMomentum?: number;
  /** Ghost batches of this many samples in training; null (default) for the whole batch. */
  virtualBatchSize?: number | null;
}

/** The checked values. */
export interface RenormOptions {
  renorm: boolean;
  clipping: RenormClipping;
  momentum: number;
  virtualBatchSize: number | null;
  /** Whether renormClipping / renormMomentum were given (kept in the config even with renorm off). */
  given: { clipping: boolean; momentum: boolean };
}

type ErrorFor = (expected: string, received: string) => Error;

const CLIPPING_KEYS = ['rmax', 'rmin', 'dmax'] as const;

function parseClipping(raw: RenormArgs['renormClipping'], error: ErrorFor): RenormClipping {
  if (raw == null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw error('renormClipping as an object with keys rmax, rmin, dmax', JSON.stringify(raw));
  }
  const unknown = Object.keys(raw).filter((k) => !(CLIPPING_KEYS as readonly string[]).includes(k));
  if (unknown.length > 0) {
    throw error('renormClipping keys among rmax, rmin, dmax', `key(s) ${unknown.join(', ')}`);
  }
  const clipping: RenormClipping = {};
  for (const key of CLIPPING_KEYS) {
    const value = raw[key];
    if (value == null) continue;
    if (typeof value !== 'number' || Number.isNaN(value)) {
      throw error(`renormClipping.${key} as a number`, JSON.stringify(value));
    }
    clipping[key] = value;
  }
  if (clipping.rmax != null && clipping.rmin != null && clipping.rmax < clipping.rmin) {
    throw error('renormClipping.rmax >= rmin', `rmax ${clipping.rmax}, rmin ${clipping.rmin}`);
  }
  if (clipping.dmax != null && clipping.dmax < 0) throw error('renormClipping.dmax >= 0', `dmax ${clipping.dmax}`);
  return clipping;
}

/**
 * Checks and fills in the renorm and ghost-batch arguments, with errors from `error` (the
 * layer's format).
 *
 * Usage: `this.renormOptions = parseRenormArgs(args, (e, r) => this.error(e, r));`
 */
export function parseRenormArgs(args: RenormArgs, error: ErrorFor): RenormOptions {
  const renorm = args.renorm ?? false;
  if (typeof renorm !== 'boolean') throw error('renorm as true or false', JSON.stringify(args.renorm));
  const momentum = args.renormMomentum ?? 0.99;
  if (!(typeof momentum === 'number' && momentum >= 0 && momentum <= 1)) {
    throw error('renormMomentum in [0, 1]', JSON.stringify(args.renormMomentum));
  }
  const virtualBatchSize = args.virtualBatchSize ?? null;
  if (virtualBatchSize != null && !(Number.isInteger(virtualBatchSize) && virtualBatchSize > 0)) {
    throw error('virtualBatchSize as a positive integer (or null)', JSON.stringify(args.virtualBatchSize));
  }
  return {
    renorm,
    clipping: parseClipping(args.renormClipping, error),
    momentum,
    virtualBatchSize,
    given: { clipping: args.renormClipping != null, momentum: args.renormMomentum != null },
  };
}

/**
 * The config keys for these options, written only when they say something (renorm on, or an
 * argument given; a ghost batch size set), as tf.keras writes them, so a plain layer's config
 * keeps exactly the built-in's keys.
 *
 * Usage: `return { ...baseConfig, ...renormConfig(this.renormOptions) };`
 */
export function renormConfig(options: RenormOptions): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  if (options.renorm || options.given.clipping || options.given.momentum) {
    config['renorm'] = options.renorm;
    config['renormClipping'] = { ...options.clipping };
    config['renormMomentum'] = options.momentum;
  }
  if (options.virtualBatchSize != null) config['virtualBatchSize'] = options.virtualBatchSize;
  return config;
}
