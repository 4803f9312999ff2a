import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { heartbeatLine, progressPayload, ttyProgress } from '../../../src/cli/progress.js';

describe('progressPayload', () => {
  it('shows examples/s (steps/s × examples per step) and the ETA', () => {
    expect(progressPayload({ perSecond: 50, etaSeconds: 65 }, { rate: { unit: 'ex', scale: 4096 } })).toEqual({ speed: ' | 205k ex/s', remaining: ' | ETA 1m05s' });
  });

  it('shows the ETA alone when no rate unit was asked for, and nothing before there is a rate', () => {
    expect(progressPayload({ perSecond: 1e6, etaSeconds: 3 }, {})).toEqual({ speed: '', remaining: ' | ETA 3s' });
    expect(progressPayload({ perSecond: null, etaSeconds: null }, { rate: { unit: 'ex', scale: 1 } })).toEqual({ speed: '', remaining: '' });
  });
});

describe('ttyProgress logSink', () => {
  it('writes plainly without a bar; under a live bar clears its line, wraps the message and re-saves the cursor below it', () => {
    const out: string[] = [];
    const stream = Object.assign(new PassThrough(), { isTTY: true, columns: 80, rows: 24 });
    stream.on('data', (d: Buffer) => out.push(d.toString()));
    const tty = ttyProgress(stream as unknown as NodeJS.WriteStream);
    tty.logSink.write('before\n');
    const bar = tty.start('prep', 10, 'B');
    tty.logSink.write('guessed user=0,item=1\n');
    bar.stop();
    tty.logSink.write('after\n');
    return new Promise<void>((done) => {
      setImmediate(() => {
        const text = out.join('');
        expect(text.startsWith('before\n')).toBe(true);
        // Cursor save (ESC 7) after the message, so the bar's stop() restores to the line below it.
        expect(text).toContain('\r\x1b[2K\x1b[?7hguessed user=0,item=1\n\x1b[?7l\x1b7');
        expect(text.endsWith('after\n')).toBe(true);
        done();
      });
    });
  });
});

describe('heartbeatLine', () => {
  it('says the stage, position of total, rate in the bar unit asked for, ETA and status', () => {
    const at = { label: 'epoch 2/20', total: 900, unit: 'steps', value: 120, status: 'loss 6.8812' };
    expect(heartbeatLine(at, { perSecond: 10, etaSeconds: 78 }, { rate: { unit: 'ex', scale: 128 } })).toBe('epoch 2/20: 120/900 steps (13%) | 1.28k ex/s | ETA 1m18s | loss 6.8812');
  });

  it('before any rate: the position alone; an unknown total: the count; large counts in three digits', () => {
    expect(heartbeatLine({ label: 'epoch 1/1', total: 50, unit: 'steps', value: 0, status: '' }, { perSecond: null, etaSeconds: null }, {})).toBe('epoch 1/1: 0/50 steps (0%)');
    expect(heartbeatLine({ label: 'read', total: 0, unit: 'B', value: 12_345_678, status: '' }, { perSecond: null, etaSeconds: null }, {})).toBe('read: 12.3M B');
  });
});
