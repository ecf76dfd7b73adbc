/**
 * Browser checks for Keras's own files: each real Keras 3.15.1 fixture, served by the suite's
 * server, loads through `tfjs-batchnorm/keras` from its URL (model.keras) and as a File
 * (model.h5, as from an `<input type="file">`), and predicts what Keras predicted within 1e-4 of
 * the output's scale. A .keras archive built in the page loads back too.
 */
import * as tf from '@tensorflow/tfjs';
import { kerasArchiveBytes, loadKerasModel } from 'tfjs-batchnorm/keras';
import { KERAS_FIXTURES } from './keras_fixtures';

const TOL = 1e-4;

/** max |predicted - Keras| / max |Keras|, read with await data(). */
async function errorVsKeras(model: tf.LayersModel, ref: { x: number[]; y: number[] }): Promise<number> {
  const [got, want] = tf.tidy(() => [model.predict(tf.tensor(ref.x)) as tf.Tensor, tf.tensor(ref.y)]);
  try {
    const [a, b] = [await got.data(), await want.data()];
    if (a.length !== b.length) return Infinity;
    let worst = 0;
    let scale = 0;
    for (let i = 0; i < a.length; i++) {
      worst = Math.max(worst, Math.abs(a[i] - b[i]));
      scale = Math.max(scale, Math.abs(b[i]));
    }
    return worst / scale;
  } finally {
    tf.dispose([got, want]);
  }
}

export const KERAS_CHECKS: Record<string, () => Promise<string>> = {
  async 'Keras 3 fixtures load from a .keras URL and an .h5 File and predict as Keras did'() {
    const lines: string[] = [];
    for (const name of KERAS_FIXTURES) {
      const ref = await (await fetch(`/keras3/${name}/ref.json`)).json() as { x: number[]; y: number[] };
      const h5 = new File([await (await fetch(`/keras3/${name}/model.h5`)).arrayBuffer()], 'model.h5');
      for (const [form, source] of [['.keras URL', `/keras3/${name}/model.keras`], ['.h5 File', h5]] as const) {
        const before = tf.memory().numTensors;
        const model = await loadKerasModel(source);
        try {
          const error = await errorVsKeras(model, ref);
          if (!(error <= TOL)) throw new Error(`${name} from ${form}: off by ${error.toExponential(2)} of the output scale`);
          lines.push(`${name} ${form} ${error.toExponential(1)}`);
        } finally {
          model.dispose();
        }
        // Said per model, so that a leak names the model (the suite counts leaks per check only).
        const leaked = tf.memory().numTensors - before;
        if (leaked !== 0) lines.push(`${name} ${form} LEAKED ${leaked}`);
      }
    }
    return lines.join(', ');
  },

  async 'a .keras archive built in the page loads back with the same predictions'() {
    const model = await loadKerasModel('/keras3/convnext_block/model.keras');
    const ref = await (await fetch('/keras3/convnext_block/ref.json')).json() as { x: number[]; y: number[] };
    let again: tf.LayersModel | null = null;
    try {
      const rebuilt = await loadKerasModel((await kerasArchiveBytes(model)).buffer as ArrayBuffer);
      again = rebuilt;
      const error = await errorVsKeras(rebuilt, ref);
      if (!(error <= TOL)) throw new Error(`off by ${error.toExponential(2)} of the output scale`);
      return `rebuilt archive: ${error.toExponential(1)}`;
    } finally {
      model.dispose();
      again?.dispose();
    }
  },
};
