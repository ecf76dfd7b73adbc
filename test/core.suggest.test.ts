/** The one edit-distance helper behind every "did you mean" of the layers and the CLI. */
import { closestNames, didYouMean, editDistance } from '../src/core/suggest';

test('edit distance counts insertions, deletions, substitutions and adjacent swaps', () => {
  expect(editDistance('momentm', 'momentum')).toBe(1);
  expect(editDistance('momnetum', 'momentum')).toBe(1); // swap
  expect(editDistance('epsilon', 'epsilon')).toBe(0);
  expect(editDistance('', 'axis')).toBe(4);
  expect(editDistance('kitten', 'sitting')).toBe(3);
});

test('suggests the closest names, only when close enough to be a misspelling', () => {
  const names = ['axis', 'momentum', 'epsilon', 'center', 'scale', 'movingMeanInitializer'];
  expect(didYouMean('momentm', names)).toBe(' (did you mean `momentum`?)');
  expect(didYouMean('moving_mean_initializer', names)).toBe(' (did you mean `movingMeanInitializer`?)');
  expect(didYouMean('foo', names)).toBe('');
  expect(didYouMean('axis', names)).toBe('');
  expect(closestNames('scales', ['scale', 'scaled'])).toEqual(['scale', 'scaled']);
});
