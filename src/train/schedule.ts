import type { TrainConfig } from '../config/schema.js';

/** Learning rate for a (0-based) epoch under the configured schedule. */
export function learningRate(cfg: Pick<TrainConfig, 'lr' | 'lr_schedule' | 'lr_decay' | 'lr_step_epochs' | 'epochs'>, epoch: number): number {
  switch (cfg.lr_schedule) {
    case 'step':
      return cfg.lr * cfg.lr_decay ** Math.floor(epoch / cfg.lr_step_epochs);
    case 'exponential':
      return cfg.lr * cfg.lr_decay ** epoch;
    case 'cosine': {
      // Cosine annealing (Loshchilov & Hutter 2017) from lr down to lr·lr_decay over the run.
      const floor = cfg.lr * cfg.lr_decay;
      const t = cfg.epochs <= 1 ? 0 : epoch / (cfg.epochs - 1);
      return floor + 0.5 * (cfg.lr - floor) * (1 + Math.cos(Math.PI * t));
    }
    default:
      return cfg.lr;
  }
}
