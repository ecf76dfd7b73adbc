/**
 * Reading Keras's own files (.keras archives, legacy .h5) without Python: the artifacts equal what
 * the real TF.js converter (tensorflowjs 4.22) wrote from the same files, byte for byte.
 */
import * as fs from 'fs';
import * as path from 'path';
import { readKerasFile } from '../src/io/keras3/read';
import { readKerasModelFile } from '../src/io/keras3/node';

const FIXTURES = path.join(__dirname, 'fixtures', 'keras3', 'models');
const MODELS = fs.readdirSync(FIXTURES).filter((m) => fs.existsSync(path.join(FIXTURES, m, 'model.keras'))).sort();

/** The converter's model.json + its one shard, as written. */
function converterOutput(dir: string): { json: { modelTopology: unknown; weightsManifest: { weights: unknown[] }[] }; bin: Buffer } {
  return {
    json: JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')),
    bin: fs.readFileSync(path.join(dir, 'group1-shard1of1.bin')),
  };
}

describe('Keras files read as the TF.js converter converts them', () => {
  it('has the committed real Keras 3 models to read', () => {
    expect(MODELS).toEqual(expect.arrayContaining(['cnn_bn', 'convnext_block', 'renorm_frozen', 'token_norms', 'unet_block']));
  });

  for (const model of MODELS) {
    const dir = path.join(FIXTURES, model);
    it(`${model}: model.keras gives the keras_keras route's model.json and weights`, async () => {
      const artifacts = await readKerasModelFile(path.join(dir, 'model.keras'));
      const { json, bin } = converterOutput(path.join(dir, 'keras_keras_route'));
      expect(artifacts.modelTopology).toEqual(json.modelTopology);
      expect(artifacts.weightSpecs).toEqual(json.weightsManifest[0].weights);
      expect(Buffer.from(artifacts.weightData as ArrayBuffer).equals(bin)).toBe(true);
    });

    it(`${model}: model.h5 gives the HDF5 route's model.json and weights`, () => {
      const artifacts = readKerasFile(new Uint8Array(fs.readFileSync(path.join(dir, 'model.h5'))), 'model.h5');
      const { json, bin } = converterOutput(dir);
      expect(artifacts.modelTopology).toEqual(json.modelTopology);
      expect(artifacts.weightSpecs).toEqual(json.weightsManifest[0].weights);
      expect(Buffer.from(artifacts.weightData as ArrayBuffer).equals(bin)).toBe(true);
    });
  }
});
