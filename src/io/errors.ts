/**
 * The error every bad model file produces: it names the file and says what was expected and
 * what was found, so a CLI user can fix the input without reading a stack trace.
 */
export class ModelFileError extends Error {
  /** The file (or directory) the problem is in. */
  readonly file: string;

  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'ModelFileError';
    this.file = file;
  }
}
