/**
 * The Keras fixture files the browser suite serves under /keras3/ for keras_checks.ts (Node side).
 *
 * Usage: `serve({ files: { ...kerasFixtureFiles() } })`
 */
import * as path from 'path';
import { KERAS_FIXTURES } from './keras_fixtures';

export function kerasFixtureFiles(): Record<string, string> {
  const root = path.join(__dirname, '..', 'fixtures', 'keras3', 'models');
  const files: Record<string, string> = {};
  for (const name of KERAS_FIXTURES) {
    for (const file of ['model.keras', 'model.h5', 'ref.json']) files[`keras3/${name}/${file}`] = path.join(root, name, file);
  }
  return files;
}
