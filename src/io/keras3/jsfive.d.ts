/** The part of jsfive's API (a pure-JavaScript HDF5 reader; it ships no types) this package uses. */
declare module 'jsfive' {
  type Attributes = Record<string, unknown>;
  export class Group {
    readonly keys: string[];
    readonly attrs: Attributes;
    get(path: string): Group | Dataset | undefined;
  }
  export class File extends Group {
    constructor(buffer: ArrayBuffer, filename: string);
  }
  export class Dataset {
    readonly shape: number[];
    readonly dtype: string | unknown[];
    readonly attrs: Attributes;
    readonly value: ArrayLike<number | bigint>;
  }
}
