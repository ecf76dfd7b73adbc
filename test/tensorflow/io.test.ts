/**
 * The package's file:// guarantees with the real tfjs-node loaded (its own file:// routers
 * registered): a model.json whose manifest names `../../outside/secret.bin` is refused through
 * loadModel and through tf.loadLayersModel('file://…'), with tfjs-node required before the
 * package (this run's setup) and after it (a fresh module registry); saves go through the
 * package's handler (nested folders created, crash-safe replace).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { loadModel, ModelFileError, saveModel } from '../../src/io';
import { cleanUp, tempDir } from '../fixtures/helpers';

type Tf = typeof import('@tensorflow/tfjs');
type Pkg = typeof import('../../src') & typeof import('../../src/io');
/** The layers entry and tfjs-batchnorm/io (which registers the package's file:// routers), as one object. */
const loadPkg = (): Pkg => ({ ...require('../../src'), ...require('../../src/io') });
/** The part of tfjs-node used here (typed by hand: tfjs-node is installed by a script, so lint runs without it). */
type TfjsNode = { io: { fileSystem(path: string): { load(): Promise<tf.io.ModelArtifacts> } } };

const SECRET = Buffer.from('outside bytes, never to be read as weights!!');

let root: string;
beforeEach(() => { root = tempDir('tfjs-bn-tfnode-'); });
afterEach(() => { cleanUp(root); });

function model(t: Tf, build: (args: { axis: number }) => tf.layers.Layer): tf.LayersModel {
  const m = t.sequential();
  m.add(t.layers.dense({ units: 3, inputShape: [2] }));
  m.add(build({ axis: -1 }));
  return m;
}

/** root/models/m/model.json with its manifest pointing at root/outside/secret.bin (11 floats' worth). */
async function hostileModel(pkg: Pkg, t: Tf): Promise<string> {
  const dir = path.join(root, 'models', 'm');
  const m = model(t, pkg.batchNormalization);
  await pkg.saveModel(m, dir);
  m.dispose();
  fs.mkdirSync(path.join(root, 'outside'));
  fs.writeFileSync(path.join(root, 'outside', 'secret.bin'), SECRET);
  const file = path.join(dir, 'model.json');
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  json.weightsManifest[0].paths = ['../../outside/secret.bin'];
  fs.writeFileSync(file, JSON.stringify(json));
  return file;
}

async function expectRefused(pkg: Pkg, t: Tf, file: string): Promise<void> {
  const tensors = t.memory().numTensors;
  const direct = await pkg.loadModel(file).then(() => null, (e: Error) => e);
  const routed = await t.loadLayersModel(`file://${file}`).then(() => null, (e: Error) => e);
  for (const error of [direct, routed]) {
    expect(error).toBeInstanceOf(pkg.ModelFileError);
    expect(error!.message).toContain(path.join(path.dirname(path.dirname(path.dirname(file))), 'outside', 'secret.bin'));
    expect(error!.message).toMatch(/does not resolve to a file inside the folder that holds model\.json/);
  }
  expect(t.memory().numTensors).toBe(tensors);
}

it('tfjs-node is loaded and its own router alone would read the outside file', async () => {
  const node: TfjsNode = require('@tensorflow/tfjs-node');
  expect(tf.getBackend()).toBe('tensorflow');
  const file = await hostileModel(loadPkg(), tf);
  // What the package protects against: tfjs-node's handler, asked directly, reads the secret.
  const artifacts = await node.io.fileSystem(file).load();
  expect(Buffer.from(artifacts.weightData as ArrayBuffer).equals(SECRET)).toBe(true);
});

it('tfjs-node required first: loadModel and tf.loadLayersModel(file://) refuse the outside path', async () => {
  const file = await hostileModel(loadPkg(), tf);
  await expectRefused(loadPkg(), tf, file);
  expect(await loadModel(file).catch((e) => e)).toBeInstanceOf(ModelFileError);
});

it('tfjs-node required after the package: the same refusal', async () => {
  let t!: Tf;
  let pkg!: Pkg;
  jest.isolateModules(() => {
    t = require('@tensorflow/tfjs');
    jest.doMock('@tensorflow/tfjs', () => t);
    pkg = loadPkg();
    require('@tensorflow/tfjs-node');
  });
  jest.dontMock('@tensorflow/tfjs');
  await t.ready();
  expect(t.getBackend()).toBe('tensorflow');
  expect(t.io.getLoadHandlers('file:///m/model.json')).toHaveLength(1);
  await expectRefused(pkg, t, await hostileModel(pkg, t));
});

it('model.save(file://…) goes through the package: nested folders made, a crash-safe save replaces in place', async () => {
  const m = model(tf, loadPkg().batchNormalization);
  const dir = path.join(root, 'a', 'b', 'c');
  await m.save(`file://${dir}`);
  expect(fs.readdirSync(dir).sort()).toEqual(['model.json', 'weights.bin']);
  // Saved again over itself; tfjs-node's handler has no such replace, and the result reloads.
  await saveModel(m, dir);
  const back = await tf.loadLayersModel(`file://${dir}/model.json`);
  expect(back.getWeights().map((w) => w.shape)).toEqual(m.getWeights().map((w) => w.shape));
  back.dispose();
  m.dispose();
});
