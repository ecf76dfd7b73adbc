/**
 * The Keras 3 fixture files the browser page fetches (see keras3_checks.ts), as serve()'s `files`
 * map: served path -> file on disk.
 *
 * Usage: `serve({ files: { ...keras3Files() } })`
 */
import * as path from 'path';
import { KERAS3_MODELS, KERAS3_ROUTES } from './keras3_names';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'keras3', 'models');

export function keras3Files(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of KERAS3_MODELS) {
    files[`keras3/${name}/ref.json`] = path.join(FIXTURES, name, 'ref.json');
    for (const route of KERAS3_ROUTES) {
      for (const file of ['model.json', 'group1-shard1of1.bin']) files[`keras3/${name}/${route}${file}`] = path.join(FIXTURES, name, route, file);
    }
  }
  return files;
}
