/** Browser stand-in for Node's `crypto` (see unavailable.ts). Usage: mapped by package.json `browser`. */
import { unavailable } from './unavailable';

export const randomBytes = unavailable('crypto.randomBytes');
