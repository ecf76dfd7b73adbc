/**
 * Registers every layer class this package provides with tfjs serialization, and the loaders of
 * the names TF and Keras wrote for them, for code that opens models without importing the package
 * entry (the converters and the command line): they then open whatever the package opens. A new
 * layer file is listed here too (test/cli.registry.test.ts compares this with the entry).
 */
import './batch_normalization';
import './aliases';
import './stock_loader';
import './layer_normalization';
import './group_normalization';
import './rms_normalization';
import './unit_normalization';
