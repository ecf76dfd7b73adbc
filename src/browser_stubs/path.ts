/** Browser stand-in for Node's `path` (see unavailable.ts). Usage: mapped by package.json `browser`. */
import { unavailable } from './unavailable';

export const sep = '/';
export const join = unavailable('path.join');
export const dirname = unavailable('path.dirname');
export const basename = unavailable('path.basename');
export const isAbsolute = unavailable('path.isAbsolute');
export const relative = unavailable('path.relative');
export const resolve = unavailable('path.resolve');
