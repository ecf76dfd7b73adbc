/**
 * Browser checks for Keras 3 models: each real Keras 3.15.1 fixture (test/fixtures/keras3, served
 * by test/browser/run.ts under /keras3/, see keras3_files.ts) loads with a plain
 * `tf.loadLayersModel(url)` once the Keras 3 loading is registered, from both routes of the real
 * converter, and predicts what Keras predicted (ref.json). The registration comes from the sources
 * (what `tfjs-batchnorm/io` calls on import): the built io entry imports Node's fs, path, os and
 * crypto, which a browser bundle cannot resolve.
 */
import * as tf from '@tensorflow/tfjs';
import { registerKeras3Loading } from '../../src/io/keras3/hook';
import { KERAS3_MODELS, KERAS3_ROUTES } from './keras3_names';

registerKeras3Loading();

/** Largest |got - Keras| relative to the largest |Keras| output (the output's scale). */
function errorVsScale(got: ArrayLike<number>, want: number[]): number {
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    worst = Math.max(worst, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return got.length === want.length ? worst / scale : Infinity;
}

/**
 * The checks, one per fixture, for the given backend. On the GPU backends (lower precision, and
 * seconds of shader compiling per model) only the converter's HDF5 route: the translation is the
 * same code on every backend, and cpu and wasm check both routes.
 */
export function keras3Checks(backend: string): Record<string, () => Promise<string>> {
  const gpu = backend !== 'cpu' && backend !== 'wasm';
  const tolerance = gpu ? 1e-3 : 1e-4;
  const routes = gpu ? KERAS3_ROUTES.slice(0, 1) : KERAS3_ROUTES;
  const which = gpu ? 'the HDF5 converter route' : 'both converter routes';
  return Object.fromEntries(KERAS3_MODELS.map((name) => [`Keras 3 ${name} loads from a URL (${which}) and predicts as Keras`,
    async () => {
      const ref = await (await fetch(`/keras3/${name}/ref.json`)).json() as { x: number[]; xshape: number[]; y: number[] };
      const want = (ref.y as unknown as number[]).flat(Infinity as 1) as number[];
      const errors: string[] = [];
      for (const route of routes) {
        const model = await tf.loadLayersModel(`/keras3/${name}/${route}model.json`);
        const x = tf.tensor(ref.x, ref.xshape);
        const y = model.predict(x) as tf.Tensor;
        const error = errorVsScale(await y.data(), want);
        tf.dispose([x, y]);
        model.dispose();
        if (!(error <= tolerance)) throw new Error(`${route || 'HDF5 route '}: off by ${error.toExponential(2)} of the output scale (tolerance ${tolerance})`);
        errors.push(error.toExponential(1));
      }
      return `vs Keras ${errors.join(', ')} of the output scale`;
    }]));
}
