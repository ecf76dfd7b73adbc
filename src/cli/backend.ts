/**
 * `--backend` support: cpu is built in; wasm and tensorflow (tfjs-node) are used only if their
 * packages are installed, never downloaded.
 */
import * as tf from '@tensorflow/tfjs';

/** The backends `--backend` accepts, and the package each needs (cpu is in @tensorflow/tfjs). */
export const BACKENDS = ['cpu', 'wasm', 'tensorflow'] as const;
const PACKAGES: Record<string, string> = {
  wasm: '@tensorflow/tfjs-backend-wasm',
  tensorflow: '@tensorflow/tfjs-node',
};

/**
 * Switches tfjs to `name` and returns the previous backend name, so callers can restore it.
 *
 * Usage: `const previous = await useBackend('wasm'); try { ... } finally { await tf.setBackend(previous); }`
 */
export async function useBackend(name: string): Promise<string> {
  // A fixed list, checked first: names like 'constructor' exist on every object's prototype.
  if (!(BACKENDS as readonly string[]).includes(name)) {
    throw new Error(`unknown backend '${name}'; expected ${BACKENDS.join(', ')}`);
  }
  await tf.ready();
  const previous = tf.getBackend();
  if (name !== 'cpu' && !Object.prototype.hasOwnProperty.call(tf.engine().registryFactory, name)) {
    const pkg = PACKAGES[name];
    try {
      require(pkg);
    } catch {
      throw new Error(`backend '${name}' needs the package ${pkg}, which is not installed; install it with ` +
        `\`npm i ${pkg}@${tf.version_core}\` (the version of your @tensorflow/tfjs) and run the command again`);
    }
  }
  if (!(await tf.setBackend(name))) throw new Error(`backend '${name}' failed to initialize`);
  await tf.ready();
  return previous;
}
