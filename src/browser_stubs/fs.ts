/** Browser stand-in for Node's `fs` (see unavailable.ts). Usage: mapped by package.json `browser`. */
import { unavailable, unavailableObject } from './unavailable';

export const constants: Record<string, number> = {};
export const promises = unavailableObject('fs.promises');
export class Stats {}
export const existsSync = unavailable('fs.existsSync');
export const readFileSync = unavailable('fs.readFileSync');
