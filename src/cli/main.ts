#!/usr/bin/env node
/** The `tfjs-batchnorm` bin: see run.ts. */
// First, before tfjs loads: a second copy of @tensorflow/tfjs gets its one clear error.
import '../core/single_tfjs';
import * as tf from '@tensorflow/tfjs';
import { run } from './run';

// Production mode silences tfjs's "install tfjs-node" banner; the CLI works without it.
tf.enableProdMode();

// Exit as soon as the command is done: a file system call that never answers (the CLI gives up
// on it with an error) must not keep the process alive.
run(process.argv.slice(2)).then((code) => { process.exit(code); });
