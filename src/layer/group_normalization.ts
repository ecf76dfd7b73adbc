import * as tf from '@tensorflow/tfjs';
import { GROUP_NORM, GROUP_NORM_ALIASES, INSTANCE_NORM, INSTANCE_NORM_ALIASES } from '../core/class_names';
import { groupView } from '../core/view';
import { normalize } from '../ops/normalize';
import { KnownArguments } from './keras_args';
import { Kwargs, NormalizationBase, NormalizationBaseArgs } from './normalization_base';
import { registerLayerClass } from './register_class';

/** Constructor arguments: Keras 3's (`groups`, `axis`, `epsilon`, `center`, `scale`, initializers, ...). */
export interface GroupNormalizationArgs extends NormalizationBaseArgs {
  /** Number of groups the channels are split into, in contiguous blocks; -1: one per channel. Default 32. */
  groups?: number;
  /** The channel axis. Default -1. */
  axis?: number | number[];
}

/**
 * Group normalization (Wu & He 2018). The channels on `axis` are split into `groups` contiguous
 * blocks (channels 0 .. C/groups - 1 form the first, as in Keras); each sample is normalized with
 * the mean and biased variance of each block over every non-batch axis, then scaled by `gamma`
 * and shifted by `beta` (one value per channel). Nothing depends on the batch, so training and
 * inference compute the same thing and small batches are no problem.
 *
 * Loads the class names `GroupNormalization` (Keras 2.11+ / 3) and `Addons>GroupNormalization`
 * (TF Addons), and saves as `GroupNormalization`.
 *
 * Usage: `model.add(new GroupNormalization({ groups: 8 }));`
 */
class GroupNormalizationLayer extends NormalizationBase {
  static className = GROUP_NORM;

  /** As given: -1 means one group per channel. */
  readonly groups: number;
  /** One gamma / beta shared by every channel (keras-contrib InstanceNormalization with `axis: null`). */
  protected readonly sharedAffine: boolean;

  constructor(args: GroupNormalizationArgs = {}) {
    // keras-contrib writes `axis: null` for "every non-batch axis, one gamma"; that is the last axis in one group.
    const shared = (args as { axis?: unknown }).axis === null;
    super({ ...args, axis: shared ? -1 : args.axis },
      { fallback: [-1], list: false, expected: 'axis as an integer or a one-element list of one' });
    this.sharedAffine = shared;
    this.groups = args.groups ?? 32;
    if (!Number.isInteger(this.groups) || (this.groups <= 0 && this.groups !== -1)) {
      throw this.error('groups as a positive integer (or -1 for one group per channel)', String(args.groups));
    }
  }

  protected override kind(): string {
    return 'GroupNormalization';
  }

  protected override ownArguments(): KnownArguments {
    return { names: ['groups'] };
  }

  /** The number of groups for `channels` channels. */
  protected groupsFor(channels: number): number {
    if (this.sharedAffine) return 1;
    return this.groups === -1 ? channels : this.groups;
  }

  protected override checkShape(shape: number[]): void {
    const axis = this.resolvedAxes[0];
    const channels = shape[axis];
    const groups = this.groupsFor(channels);
    if (groups > channels || channels % groups !== 0) {
      throw this.error(`a number of groups that divides the ${channels} channels on axis ${axis}`,
        `groups ${this.groups}`);
    }
  }

  protected override affineShape(shape: number[]): number[] {
    return this.sharedAffine ? [1] : [shape[this.resolvedAxes[0]]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = this.checkInput(Array.isArray(inputs) ? inputs[0] : inputs);
      const axis = this.resolvedAxes[0];
      const view = groupView(x.shape, axis, this.groupsFor(x.shape[axis]), this.sharedAffine);
      return normalize({ x, ...this.affineParams(), view, epsilon: this.epsilon });
    });
  }

  protected override axisConfig(): number | number[] {
    return this.sharedAffine ? (null as unknown as number) : super.axisConfig();
  }

  override getConfig(): tf.serialization.ConfigDict {
    return this.sharedConfig({ afterAxis: { groups: this.groups } });
  }
}

/** Constructor arguments: GroupNormalization's without `groups` (TF Addons' `groups: -1` is accepted). */
export type InstanceNormalizationArgs = GroupNormalizationArgs;

/**
 * Instance normalization (Ulyanov et al. 2016): group normalization with one group per channel,
 * so each sample's channels are normalized separately over the spatial axes.
 *
 * Loads the class names `InstanceNormalization` (keras-contrib; its `axis: null`, one gamma for
 * all, is read too) and `Addons>InstanceNormalization` (TF Addons, config `groups: -1`), and
 * saves as `InstanceNormalization`.
 *
 * Usage: `model.add(new InstanceNormalization({ axis: -1 }));`
 */
class InstanceNormalizationLayer extends GroupNormalizationLayer {
  static override className = INSTANCE_NORM;

  constructor(args: InstanceNormalizationArgs = {}) {
    super({ ...args, groups: -1 });
    if (args.groups != null && args.groups !== -1) {
      throw this.error('no groups, or groups -1 (one group per channel)', `groups ${args.groups}`);
    }
  }

  protected override kind(): string {
    return 'InstanceNormalization';
  }
}

/** The layer classes (shared with any other copy of this package loaded alongside this one). */
export const GroupNormalization = registerLayerClass(GroupNormalizationLayer);
export type GroupNormalization = GroupNormalizationLayer;
export const InstanceNormalization = registerLayerClass(InstanceNormalizationLayer);
export type InstanceNormalization = InstanceNormalizationLayer;
// Subclasses that only change the class name: they load (and save) under the other libraries' names.
for (const name of GROUP_NORM_ALIASES) {
  registerLayerClass(class extends GroupNormalizationLayer {
    static override className = name;
  });
}
for (const name of INSTANCE_NORM_ALIASES) {
  registerLayerClass(class extends InstanceNormalizationLayer {
    static override className = name;
  });
}

/**
 * Factory for GroupNormalization, named like tfjs's layer factories.
 *
 * Usage: `tf.sequential({ layers: [tf.layers.conv2d({ filters: 32, kernelSize: 3, inputShape: [28, 28, 1] }), groupNormalization({ groups: 8 })] })`
 */
export function groupNormalization(args?: GroupNormalizationArgs): GroupNormalization {
  return new GroupNormalization(args);
}

/**
 * Factory for InstanceNormalization, named like tfjs's layer factories.
 *
 * Usage: `model.add(instanceNormalization())`
 */
export function instanceNormalization(args?: InstanceNormalizationArgs): InstanceNormalization {
  return new InstanceNormalization(args);
}
