/**
 * `file://` routing for `model.save` and `tf.loadLayersModel` in Node.
 *
 * This package's handler (file_system.ts) is the one that serves `file://` URLs, also when
 * tfjs-node is loaded: tfjs-node's own file system router reads whatever paths a model.json
 * names (a weight path like `../../outside/secret.bin` included), writes without the crash-safe
 * replace and has no size limits. tfjs keeps its routers in a private list and uses every router
 * that claims a URL (two claims are an error), so ours makes the others step aside: each other
 * router in the list is replaced, in place, by one that answers null for a `file://` string and
 * passes every other URL through. That happens when ours is registered (routers already there)
 * and again on each lookup (routers registered later, such as tfjs-node required after this
 * package; they sit after ours in the list, so they are replaced before tfjs asks them).
 *
 * The list is found by watching the one `push` tfjs's `registerSaveRouter` makes. If a future
 * tfjs stores routers differently, ours is still registered and claims `file://`; with tfjs-node
 * also loaded tfjs then refuses the URL ("more than one handler"), which fails safe.
 */
import * as tf from '@tensorflow/tfjs';
import { fileSystem } from './file_system';

type Router = Parameters<typeof tf.io.registerSaveRouter>[0];
type AnyRouter = (url: string | string[], options?: unknown) => unknown;

// Shared by every copy of this package, so a router one copy wrapped is not wrapped again.
const STEPPED_ASIDE = Symbol.for('tfjs-batchnorm.fileRouterSteppedAside');

let registered = false;

function isFileUrl(url: unknown): url is string {
  return typeof url === 'string' && url.startsWith('file://');
}

/** Replaces every router in `list` but `own` by one that leaves `file://` strings to `own`. */
function stepOthersAside(list: AnyRouter[] | null, own: AnyRouter): void {
  if (list == null) return;
  for (let i = 0; i < list.length; i++) {
    const other = list[i];
    if (other === own || (other as unknown as Record<symbol, boolean>)[STEPPED_ASIDE]) continue;
    const aside = (url: string | string[], options?: unknown) => (isFileUrl(url) ? null : other(url, options));
    (aside as unknown as Record<symbol, boolean>)[STEPPED_ASIDE] = true;
    list[i] = aside;
  }
}

/** Registers `router` with `register` and returns the array tfjs pushed it onto (or null). */
function registerAndFindList(register: (r: Router) => void, router: AnyRouter): AnyRouter[] | null {
  let list: AnyRouter[] | null = null;
  const push = Array.prototype.push;
  Array.prototype.push = function (this: unknown[], ...items: unknown[]): number {
    if (items.length === 1 && items[0] === router) list = this as AnyRouter[];
    return push.apply(this, items);
  };
  try {
    register(router as unknown as Router);
  } finally {
    Array.prototype.push = push;
  }
  return list;
}

function makeRouter(): { router: AnyRouter; setList: (list: AnyRouter[] | null) => void } {
  let list: AnyRouter[] | null = null;
  // tfjs's routers return null for URLs they do not handle, although the type omits it.
  const router: AnyRouter = (url) => {
    if (!isFileUrl(url)) return null;
    stepOthersAside(list, router);
    return fileSystem(url);
  };
  return { router, setList: (l) => { list = l; stepOthersAside(l, router); } };
}

function isNode(): boolean {
  return typeof process !== 'undefined' && process.versions?.node != null;
}

/**
 * Registers this package's `file://` save and load routers once, ahead of any other `file://`
 * router (tfjs-node's included, whether it was loaded before or after): `model.save('file://…')`
 * and `tf.loadLayersModel('file://…')` then always get this package's checked, crash-safe
 * handler. Registers nothing outside Node. Returns whether our routers are registered.
 *
 * Usage: `registerFileSystemRouters(); await model.save('file://models/net');`
 */
export function registerFileSystemRouters(): boolean {
  if (!isNode()) return false;
  if (!registered) {
    const save = makeRouter();
    save.setList(registerAndFindList(tf.io.registerSaveRouter, save.router));
    const load = makeRouter();
    load.setList(registerAndFindList(tf.io.registerLoadRouter, load.router));
    registered = true;
  }
  return registered;
}
