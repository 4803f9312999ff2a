import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../../src/util/errors.js';
import { fileKind, parseColumnsSpec, parseEventWeights, parseMaxRejects, parseSplitSpec } from '../../../../src/data/prep/options.js';

describe('prep option parsers', () => {
  it('parses --columns by name and index', () => {
    expect(parseColumnsSpec('user=0,item=item_id,rating=2,event=type,ts=3')).toEqual({
      user: { kind: 'index', index: 0 },
      item: { kind: 'name', name: 'item_id' },
      rating: { kind: 'index', index: 2 },
      event: { kind: 'name', name: 'type' },
      ts: { kind: 'index', index: 3 },
    });
  });

  it('rejects bad --columns naming flag, key, value and expectation', () => {
    for (const bad of ['user=0', 'user=0,item=0', 'user=0,user=1,item=2', 'user=0,item=1,score=2', 'user0,item=1', 'user=,item=1']) {
      expect(() => parseColumnsSpec(bad)).toThrow(UsageError);
      expect(() => parseColumnsSpec(bad)).toThrow(/--columns \(config prep\.columns\) is invalid\. Received: ".*"\. Expected user=C,item=C/);
    }
  });

  it('parses --split', () => {
    expect(parseSplitSpec('random:0.8,0.1,0.1')).toEqual({ kind: 'random', ratios: [0.8, 0.1, 0.1] });
    expect(parseSplitSpec('temporal:0.9,0,0.1')).toEqual({ kind: 'temporal', ratios: [0.9, 0, 0.1] });
    expect(parseSplitSpec('leave-last')).toEqual({ kind: 'leave-last' });
    expect(parseSplitSpec('none')).toEqual({ kind: 'none' });
    for (const bad of ['random', 'random:0.5,0.5', 'random:a,b,c', 'random:0.5,0.2,0.2', 'last', 'temporal:-0.1,0.6,0.5']) {
      expect(() => parseSplitSpec(bad)).toThrow(/--split \(config prep\.split\) is invalid/);
    }
  });

  it('parses --event-weights', () => {
    expect([...parseEventWeights('view=1, cart=3,buy=5.5,pv=-1')]).toEqual([['view', 1], ['cart', 3], ['buy', 5.5], ['pv', -1]]);
    for (const bad of ['view', 'view=x', '=1', 'view=1,view=2', 'view=Infinity', 'a=1,', 'view=0x10', 'view=1e39', 'view=0b1']) {
      expect(() => parseEventWeights(bad)).toThrow(/--event-weights \(config prep\.event_weights\) is invalid/);
    }
  });

  it('parses --max-rejects as a count or a percentage', () => {
    expect(parseMaxRejects(10)).toEqual({ kind: 'count', count: 10 });
    expect(parseMaxRejects('10')).toEqual({ kind: 'count', count: 10 });
    expect(parseMaxRejects('5%')).toEqual({ kind: 'percent', percent: 5 });
    expect(parseMaxRejects('0.5%')).toEqual({ kind: 'percent', percent: 0.5 });
    for (const bad of ['5 %', '-1', '101%', 'x', 1.5]) {
      expect(() => parseMaxRejects(bad)).toThrow(/--max-rejects \(config prep\.max_rejects\) is invalid\. Received: .*Expected a non-negative integer count/);
    }
  });

  it('takes the format from the extension, .gz included', () => {
    expect(fileKind('/a/b/ratings.dat.gz', 'auto')).toEqual({ format: 'csv', gzip: true, ext: '.dat' });
    expect(fileKind('x.TSV', 'auto')).toEqual({ format: 'tsv', gzip: false, ext: '.tsv' });
    expect(fileKind('x.jsonl.gz', 'auto').format).toBe('jsonl');
    expect(fileKind('x.json', 'auto').format).toBe('jsonl');
    expect(fileKind('u.data', 'auto').format).toBe('csv');
    expect(fileKind('x.csv', 'tsv').format).toBe('tsv');
  });
});
