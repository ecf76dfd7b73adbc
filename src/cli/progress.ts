/**
 * What the CLI says on stderr while it works. Predicting on tfjs's `cpu` backend is synchronous,
 * so no timer fires while a model runs: the progress advances from the work itself, once per
 * layer run (see `countLayerCalls`), and is drawn right then. On a terminal it is a cli-progress
 * bar; elsewhere (a pipe, a log file, a test) one line at most every 2 s. Async waits (reading,
 * writing files) get the same line from a timer.
 */
import * as tf from '@tensorflow/tfjs';
import * as cliProgress from 'cli-progress';
import { leafLayers } from '../convert/rebuild';

/** Where progress goes: text to stderr, and stderr's stream when it is a terminal (for the bar). */
export interface ProgressOutput {
  stderr: (text: string) => void;
  /** Set only when stderr is a terminal: progress is then drawn as a bar on it. */
  terminal?: NodeJS.WriteStream;
}

export interface ProgressOptions {
  /** Nothing at all on stderr (`--quiet`). */
  quiet?: boolean;
  /** Longest silence, in ms, before a line says what is going on (2000). */
  everyMs?: number;
  /** The clock (tests give a fake one). */
  now?: () => number;
}

/** Seconds of silence before a slow step says what it is doing. */
export const NOTICE_AFTER_MS = 2000;

/**
 * The progress of one command: a sequence of steps, each with an optional count of units.
 *
 * Usage: `progress.start('comparing', 2 * layers, 'layers'); ...; progress.tick(); ...; progress.stop();`
 */
export class Progress {
  private bar: cliProgress.SingleBar | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private label = '';
  private unit = '';
  private total = 0;
  private value = 0;
  private started = 0;
  private lastLine = 0;
  private readonly everyMs: number;
  private readonly now: () => number;

  constructor(private readonly out: ProgressOutput, private readonly options: ProgressOptions = {}) {
    this.everyMs = options.everyMs ?? NOTICE_AFTER_MS;
    this.now = options.now ?? Date.now;
  }

  /** Starts a step (ending the one before): `total` units of `unit`, or 0 for a step without a count. */
  start(label: string, total = 0, unit = ''): void {
    this.stop();
    if (this.options.quiet) return;
    Object.assign(this, { label, unit, total, value: 0, started: this.now() });
    this.lastLine = this.started;
    if (this.out.terminal != null) {
      const counted = total > 0 ? ` [{bar}] {value}/{total} ${unit}` : '...';
      this.bar = new cliProgress.SingleBar({
        stream: this.out.terminal, format: `tfjs-batchnorm: ${label}${counted} ({duration}s)`, hideCursor: true,
        clearOnComplete: true, fps: 5,
      }, cliProgress.Presets.shades_classic);
      this.bar.start(Math.max(total, 1), 0);
    } else {
      this.timer = setInterval(() => this.line(), this.everyMs);
    }
  }

  /** Advances the current step by `n` units, and draws it if it is time to. */
  tick(n = 1): void {
    if (this.options.quiet || this.label === '') return;
    this.value = Math.min(this.total, this.value + n);
    if (this.bar != null) this.bar.update(this.value);
    else if (this.now() - this.lastLine >= this.everyMs) this.line();
  }

  /** Ends the current step; a bar on a terminal is erased. */
  stop(): void {
    if (this.timer != null) clearInterval(this.timer);
    this.timer = null;
    this.bar?.stop();
    this.bar = null;
    this.label = '';
  }

  /**
   * Runs `body` as a step without a count (reading, writing): a line every 2 s while it runs.
   *
   * Usage: `const model = await progress.during('loading m/model.json', () => loadModel('m/model.json'));`
   */
  async during<T>(label: string, body: () => Promise<T>): Promise<T> {
    this.start(label);
    try {
      return await body();
    } finally {
      this.stop();
    }
  }

  private line(): void {
    const count = this.total > 0 ? `: ${this.value}/${this.total} ${this.unit}` : '';
    this.out.stderr(`tfjs-batchnorm: ${this.label}${count} (${((this.now() - this.started) / 1000).toFixed(1)} s)...\n`);
    this.lastLine = this.now();
  }
}

/**
 * The layers of `models` that compute something when the model runs: nested models opened,
 * input layers left out. A predict of each model runs each of them once (shared layers more often).
 *
 * Usage: `progress.start('predicting', layersThatRun([model]).length, 'layer runs');`
 */
export function layersThatRun(models: tf.LayersModel[]): tf.layers.Layer[] {
  return models.flatMap((m) => [...leafLayers(m).values()]).filter((layer) => layer.getClassName() !== 'InputLayer');
}

/**
 * Calls `onCall` after each layer of `models` runs (a predict of a model of L leaf layers makes
 * L calls). Returns the function that puts the layers back as they were.
 *
 * Usage: `const restore = countLayerCalls([a, b], () => progress.tick()); try { a.predict(x) } finally { restore() }`
 */
export function countLayerCalls(models: tf.LayersModel[], onCall: () => void): () => void {
  const restores = layersThatRun(models).map((layer) => wrapCall(layer, (call) => (inputs, kwargs) => {
    const y = call(inputs, kwargs);
    onCall();
    return y;
  }));
  return () => { for (const restore of restores.reverse()) restore(); };
}

type Call = (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];

/**
 * Replaces `layer.call` on this one instance by `wrap(the current call)`; returns the function
 * that restores it. Wrappers nest: restore them in the reverse order.
 *
 * Usage: `const restore = wrapCall(layer, (call) => (x, kw) => { const y = call(x, kw); seen(y); return y; });`
 */
export function wrapCall(layer: tf.layers.Layer, wrap: (call: Call) => Call): () => void {
  const own = Object.getOwnPropertyDescriptor(layer, 'call');
  const current = layer.call.bind(layer) as Call;
  Object.defineProperty(layer, 'call', { value: wrap(current), configurable: true, writable: true });
  return () => {
    if (own != null) Object.defineProperty(layer, 'call', own);
    else delete (layer as { call?: unknown }).call;
  };
}
