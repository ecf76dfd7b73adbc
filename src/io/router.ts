/**
 * `file://` routing for `model.save` and `tf.loadLayersModel` in Node.
 *
 * If tfjs-node is present its own file system router wins: ours steps aside whenever another
 * router also claims the URL. That check runs on every lookup, not only at registration,
 * because tfjs rejects a URL two routers claim ("more than one save handler") and tfjs-node may
 * well be required after this package.
 */
import * as tf from '@tensorflow/tfjs';
import { fileSystem } from './file_system';

let registered = false;
let asking = false;

function othersClaim(url: string, lookup: (u: string) => tf.io.IOHandler[]): boolean {
  asking = true;
  try {
    return lookup(url).length > 0;
  } finally {
    asking = false;
  }
}

type Router = Parameters<typeof tf.io.registerSaveRouter>[0];

function router(lookup: (u: string) => tf.io.IOHandler[]): Router {
  // tfjs's routers return null for URLs they do not handle, although the type omits it.
  return ((url: string | string[]): tf.io.IOHandler | null => {
    if (asking || typeof url !== 'string' || !url.startsWith('file://')) return null;
    return othersClaim(url, lookup) ? null : fileSystem(url);
  }) as Router;
}

function isNode(): boolean {
  return typeof process !== 'undefined' && process.versions?.node != null;
}

const PROBE_URL = 'file://probe';

/**
 * Registers this package's `file://` save and load routers once (the package entry calls it).
 * Registers nothing outside Node, or when a `file://` router already exists (tfjs-node's, or a
 * second copy of this package). If tfjs-node registers its routers later, ours step aside on
 * each lookup. Returns whether our routers are registered.
 *
 * Usage: `registerFileSystemRouters(); await model.save('file://models/net');`
 */
export function registerFileSystemRouters(): boolean {
  if (!isNode()) return false;
  if (!registered) {
    if (tf.io.getSaveHandlers(PROBE_URL).length === 0 && tf.io.getLoadHandlers(PROBE_URL).length === 0) {
      tf.io.registerSaveRouter(router((u) => tf.io.getSaveHandlers(u)));
      tf.io.registerLoadRouter(router((u) => tf.io.getLoadHandlers(u)));
      registered = true;
    }
  }
  return registered;
}
