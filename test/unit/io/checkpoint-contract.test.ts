import { describe, expect, it } from 'vitest';
import { checkpointReadme } from '../../../src/io/checkpoint-readme.js';
import { CHECKPOINT_ENTRIES, evalFileName, isEvalEntry, negativesFileName, parseEvalFileName } from '../../../src/io/checkpoint-contract.js';

describe('eval file names', () => {
  it('takes apart what evalFileName writes, the split being everything before the last dash', () => {
    expect(parseEvalFileName(evalFileName('test', 'sampled100'))).toEqual({ id: 'test-sampled100', split: 'test', protocol: 'sampled100' });
    expect(parseEvalFileName(evalFileName('valid-2', 'full'))).toEqual({ id: 'valid-2-full', split: 'valid-2', protocol: 'full' });
  });

  it('keeps an eval file without a split and a protocol in its name, and refuses other entries', () => {
    expect(parseEvalFileName('eval-foo.json')).toEqual({ id: 'foo', split: null, protocol: null });
    expect(parseEvalFileName('eval-x-.json')).toEqual({ id: 'x-', split: null, protocol: null });
    for (const name of ['eval-.json', 'run.json', 'eval-test-full.json.tmp-1', 'xeval-test-full.json', 'eval-test-full.negatives.tsv']) expect(parseEvalFileName(name)).toBeNull();
  });

  it('names the negatives beside an eval file, and owns both', () => {
    expect(negativesFileName('eval-test-sampled100.json')).toBe('eval-test-sampled100.negatives.tsv');
    expect(isEvalEntry('eval-test-sampled100.negatives.tsv')).toBe(true);
    expect(isEvalEntry('eval-test-full.json')).toBe(true);
    expect(isEvalEntry('eval-.negatives.tsv')).toBe(false);
    expect(isEvalEntry('notes.json')).toBe(false);
  });
});

describe('checkpoint entries', () => {
  it('puts every entry with a description in the README table', () => {
    const readme = checkpointReadme('mf');
    for (const e of Object.values(CHECKPOINT_ENTRIES)) {
      if (e.readme === null) continue;
      expect(readme).toContain(`| \`${e.name}${e.dir ? '/' : ''}\` | ${e.readme} |`);
    }
    expect(readme).toContain('| `vocab/` |');
    expect(readme).toContain('trained.json');
  });
});
