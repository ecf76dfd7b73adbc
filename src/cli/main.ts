#!/usr/bin/env node
/** The `tfjs-batchnorm` bin: see run.ts. */
import * as tf from '@tensorflow/tfjs';
import { run } from './run';

// Production mode silences tfjs's "install tfjs-node" banner; the CLI works without it.
tf.enableProdMode();

run(process.argv.slice(2)).then((code) => { process.exitCode = code; });
