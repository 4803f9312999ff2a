import { describe, expect, it } from 'vitest';
import { autoWorkers } from '../../../src/engine/workers.js';

describe('autoWorkers', () => {
  it.each([
    ['wasm', 1, 1],
    ['wasm', 2, 2],
    ['cpu', 12, 12],
    ['wasm', 16, 16],
    ['wasm', 64, 16],
    ['cpu', 0, 1],
  ] as const)('%s on %i cores: %i threads (every core, at most 16, at least 1)', (engine, cores, expected) => {
    expect(autoWorkers(engine, cores)).toBe(expected);
  });

  it.each(['node', 'node-gpu'] as const)('%s threads each op itself: 1 thread whatever the cores', (engine) => {
    expect(autoWorkers(engine, 1)).toBe(1);
    expect(autoWorkers(engine, 8)).toBe(1);
    expect(autoWorkers(engine, 64)).toBe(1);
  });
});
