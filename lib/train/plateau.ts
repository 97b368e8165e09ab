/**
 * Reduce-on-plateau learning-rate schedule with early stopping, driven by the validation loss
 * once per epoch (Keras/PyTorch semantics: an epoch "improves" when the loss drops below the
 * best by more than `minDelta`).
 *
 * @module
 */

/** Options of {@linkcode PlateauSchedule}. */
export interface PlateauOptions {
  /** Initial learning rate. */
  lr: number;
  /** Multiplier applied on a plateau. @default 0.2 */
  factor?: number;
  /** Epochs without improvement before the LR is reduced. @default 30 */
  patience?: number;
  /** Epochs without improvement before training stops. @default 60 */
  stopPatience?: number;
  /** Minimum decrease that counts as an improvement. @default 1e-4 */
  minDelta?: number;
  /** Lower bound of the LR. @default 0 */
  minLr?: number;
}

/** Serialisable state of the schedule (saved in checkpoints). */
export interface PlateauState {
  /** Current learning rate. */
  lr: number;
  /** Best validation loss so far. */
  best: number;
  /** Epochs since the last improvement (for stopping). */
  sinceBest: number;
  /** Epochs since the last improvement or LR reduction (for the LR). */
  sinceReduce: number;
  /** Whether training should stop. */
  stopped: boolean;
}

/** What happened at the end of an epoch. */
export interface PlateauEvent {
  /** The loss improved on the best. */
  improved: boolean;
  /** The LR was reduced. */
  reduced: boolean;
  /** Training should stop now. */
  stop: boolean;
}

/** Reduce-on-plateau + early stopping. */
export class PlateauSchedule {
  #o: Required<PlateauOptions>;
  #s: PlateauState;

  /**
   * Create the schedule.
   *
   * @param options Initial LR, factor, patiences.
   * @param state A saved state to resume from.
   * @throws {RangeError} On a non-positive LR or patience, or a factor outside (0, 1].
   */
  constructor(options: PlateauOptions, state?: PlateauState) {
    this.#o = {
      factor: 0.2,
      patience: 30,
      stopPatience: 60,
      minDelta: 1e-4,
      minLr: 0,
      ...options,
    };
    if (!(this.#o.lr > 0)) throw new RangeError(`Invalid lr: ${this.#o.lr}`);
    if (!(this.#o.factor > 0 && this.#o.factor <= 1)) {
      throw new RangeError(`Invalid schedule factor: ${this.#o.factor}`);
    }
    if (!(this.#o.patience >= 1) || !(this.#o.stopPatience >= 1)) {
      throw new RangeError("Invalid schedule patience: must be ≥ 1");
    }
    this.#s = state
      ? { ...state }
      : { lr: this.#o.lr, best: Infinity, sinceBest: 0, sinceReduce: 0, stopped: false };
  }

  /** Current learning rate. */
  get lr(): number {
    return this.#s.lr;
  }

  /** A copy of the state. */
  get state(): PlateauState {
    return { ...this.#s };
  }

  /**
   * Record the validation loss of a finished epoch.
   *
   * @param loss Validation loss.
   * @returns Whether it improved, whether the LR dropped, whether to stop.
   */
  step(loss: number): PlateauEvent {
    const s = this.#s;
    const improved = loss < s.best - this.#o.minDelta;
    let reduced = false;
    if (improved) {
      s.best = loss;
      s.sinceBest = 0;
      s.sinceReduce = 0;
    } else {
      s.sinceBest++;
      s.sinceReduce++;
      if (s.sinceReduce >= this.#o.patience) {
        const next = Math.max(this.#o.minLr, s.lr * this.#o.factor);
        reduced = next < s.lr;
        s.lr = next;
        s.sinceReduce = 0;
      }
    }
    if (s.sinceBest >= this.#o.stopPatience) s.stopped = true;
    return { improved, reduced, stop: s.stopped };
  }
}
