/**
 * The errors a run reports with their own exit code (the CLI maps them; see the README's exit
 * codes): a bad option or selection (exit 2, like a bad pipeline) and bad data (exit 1).
 * Thrown before any work where possible.
 *
 * @module
 */

/** A run option or selection that cannot work (`--folds 9`, `--out` on a file): exit 2. */
export class RunOptionError extends RangeError {
  /**
   * Create the error.
   *
   * @param message What is wrong, naming the option and the values allowed.
   */
  constructor(message: string) {
    super(message);
    this.name = "RunOptionError";
  }
}

/** The data cannot serve the pipeline (an empty group it needs, a non-finite voxel): exit 1. */
export class DataError extends Error {
  /**
   * Create the error.
   *
   * @param message What is wrong, naming the file, the group or the field.
   */
  constructor(message: string) {
    super(message);
    this.name = "DataError";
  }
}
