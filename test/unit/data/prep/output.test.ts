import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDataset, readManifest } from '../../../../src/data/dataset.js';
import { DATASET_OUTPUT } from '../../../../src/data/manifest.js';
import { parseTempName } from '../../../../src/io/atomic.js';
import { checkOutputFile, inputsInside, inspectOutputDir } from '../../../../src/io/output-dir.js';
import { DataError, UsageError } from '../../../../src/util/errors.js';
import { fixture, prep, tempRoot } from './helpers.js';

const next = tempRoot();
const LOG = fixture('basic.tsv');
const DATASET = ['items.arrow', 'manifest.json', 'rejects.jsonl', 'test.arrow', 'train.arrow', 'users.arrow', 'valid.arrow'];

/** A folder holding a user's own files (and a copy of the log), as a notebook's working folder would. */
function userFolder(): { dir: string; log: string } {
  const dir = next();
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'notes.md'), 'my notes');
  writeFileSync(join(dir, 'analysis.ipynb'), '{}');
  const log = join(dir, 'events.tsv');
  copyFileSync(LOG, log);
  return { dir, log };
}

describe('rec prep --out: which folders it may write (README.md#output-files)', () => {
  it('refuses a folder with other files, naming them, and changes nothing', async () => {
    const { dir, log } = userFolder();
    const before = readdirSync(dir).sort();
    const error = await prep(dir, [log]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect(String(error)).toMatch(/analysis\.ipynb, events\.tsv, notes\.md.*--force/);
    expect(readdirSync(dir).sort()).toEqual(before);
    expect(readdirSync(dirname(dir)).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('with --force writes the dataset beside the user files, input included, and replaces only its own', async () => {
    const { dir, log } = userFolder();
    writeFileSync(join(dir, 'manifest.json'), '{"stale": true}');
    await prep(dir, [log], {}, { force: true });
    expect(readdirSync(dir).sort()).toEqual([...DATASET, 'analysis.ipynb', 'events.tsv', 'notes.md'].sort());
    expect(readFileSync(join(dir, 'notes.md'), 'utf8')).toBe('my notes');
    expect(readFileSync(log, 'utf8')).toBe(readFileSync(LOG, 'utf8'));
    expect(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'))).toHaveProperty('rows');
    // Again: the dataset's files are replaced, the rest kept.
    const second = await prep(dir, [log], { split: 'none' }, { force: true });
    expect(second.manifest.rows.valid).toBe(0);
    expect(readFileSync(join(dir, 'notes.md'), 'utf8')).toBe('my notes');
  });

  it('replaces a dataset folder it wrote, and refuses it once something else is in it', async () => {
    const out = next();
    await prep(out, [LOG]);
    const again = await prep(out, [LOG], { split: 'none' });
    expect(again.manifest.rows.test).toBe(0);
    expect(readdirSync(out).sort()).toEqual(DATASET);
    writeFileSync(join(out, 'README.txt'), 'mine');
    await expect(prep(out, [LOG])).rejects.toThrow(/holds a dataset folder and other files too \(README\.txt\)/);
  });

  it('never overwrites or deletes an input inside --out, --force or not', async () => {
    const dir = next();
    mkdirSync(dir, { recursive: true });
    const named = join(dir, 'train.arrow');
    copyFileSync(LOG, named);
    for (const force of [false, true]) {
      await expect(prep(dir, [named], { format: 'tsv' }, { force })).rejects.toThrow(/holds the input .*train\.arrow, which writing the dataset would overwrite/);
      expect(readFileSync(named, 'utf8')).toBe(readFileSync(LOG, 'utf8'));
    }
    // Through a symlink, and as a --test file, too.
    const link = join(next(), 'log.tsv');
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(named, link);
    await expect(prep(dir, [link], { format: 'tsv' }, { force: true })).rejects.toThrow(/would overwrite/);
    await expect(prep(dir, [LOG], { test: named, format: 'tsv', split: 'random:0.9,0.1,0' }, { force: true })).rejects.toThrow(/would overwrite/);
    expect(readdirSync(dir)).toEqual(['train.arrow']);
  });

  it('keeps a symlinked --out a symlink and writes where it points', async () => {
    const real = next();
    const link = next();
    mkdirSync(real, { recursive: true });
    symlinkSync(real, link);
    await prep(link, [LOG]);
    await prep(link, [LOG], { split: 'none' });
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readdirSync(real).sort()).toEqual(DATASET);
    expect(readdirSync(dirname(real)).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('refuses the file-system root and a file in place of the folder', async () => {
    await expect(prep('/', [LOG])).rejects.toThrow(/--out \/ is the root of the file system/);
    await expect(prep(LOG, [LOG])).rejects.toThrow(UsageError);
    expect(readFileSync(LOG, 'utf8').length).toBeGreaterThan(0);
  });

  it('names --out and the reason for fs failures instead of crashing', async () => {
    const file = join(next());
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, 'x');
    await expect(prep(join(file, 'ds'), [LOG])).rejects.toThrow(DataError);
    await expect(prep(join(file, 'ds'), [LOG])).rejects.toThrow(/Cannot write .*: a part of the path is a file, not a folder \(ENOTDIR\)/);
    await expect(prep(join(dirname(file), 'x'.repeat(300)), [LOG])).rejects.toThrow(/the name is too long.*ENAMETOOLONG/);
    if (existsSync('/proc/self')) {
      // Used to spin in Node's recursive mkdir for minutes.
      await expect(prep('/proc/self/rec-nope', [LOG])).rejects.toThrow(/Cannot write \/proc\/self\/rec-nope: .*ENOENT/);
    }
  });

  it('removes temp folders left by a killed prep to the same --out, and only those', async () => {
    const out = next();
    const parent = dirname(out);
    mkdirSync(parent, { recursive: true });
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
    const base = out.split('/').pop() ?? '';
    const stale = join(parent, `.${base}.tmp-${dead}-deadbeef`);
    mkdirSync(stale);
    writeFileSync(join(stale, 'train.arrow'), 'half');
    const otherStale = join(parent, `.someone-else.tmp-${dead}-deadbeef`);
    mkdirSync(otherStale);
    const result = await prep(out, [LOG]);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(otherStale)).toBe(true);
    expect(result.logs.join('\n')).toMatch(/removed .*tmp-.*interrupted run/);
  });
});

describe('a prep killed between the two renames of its swap (folder absent, its copy beside it)', () => {
  /** The crash state: DIR set aside as `.DIR.tmp-DEADPID-…` (complete), and DIR gone. */
  function crash(out: string, hex = 'a5a5a5a5'): string {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
    const aside = join(dirname(out), `.${basename(out)}.tmp-${dead}-${hex}`);
    renameSync(out, aside);
    return aside;
  }

  it('the next prep into it puts the copy back before sweeping, and appends onto it', async () => {
    const out = next();
    const first = await prep(out, [LOG], { split: 'none' });
    const aside = crash(out);
    // An unfinished staged folder of the same run (no manifest) is not a candidate.
    const half = join(dirname(out), `.${basename(out)}.tmp-${parseTempName(basename(aside))?.pid}-b6b6b6b6`);
    mkdirSync(half);
    writeFileSync(join(half, 'train.arrow'), 'half');
    const night = join(next(), 'night.tsv');
    mkdirSync(dirname(night), { recursive: true });
    writeFileSync(night, 'u4\ti1\t4\t1000000300\nu4\ti2\t2\t1000000400\n');
    const again = await prep(out, [night], {}, { appendTo: out });
    expect(again.logs.join('\n')).toMatch(/was missing \(a rec prep was killed while swapping it in\); restored the complete copy/);
    expect(again.manifest.append?.base.rows).toBe(first.manifest.rows.train);
    expect(again.manifest.sources.map((s) => s.path)).toEqual([LOG, night]);
    expect(again.manifest.rows.train).toBe(first.manifest.rows.train + 2);
    expect(readdirSync(dirname(out)).filter((n) => n.startsWith(`.${basename(out)}.`))).toEqual([]);
  });

  it('a reader (loadDataset, readManifest) finds the folder put back; a copy missing a file is left alone', async () => {
    const out = next();
    const first = await prep(out, [LOG]);
    crash(out);
    expect((await loadDataset(out)).manifest).toEqual(first.manifest);
    expect(readdirSync(out).sort()).toEqual(DATASET);
    const aside = crash(out);
    rmSync(join(aside, 'users.arrow'));
    await expect(readManifest(out)).rejects.toThrow(/is not a dataset folder/);
    expect(existsSync(aside)).toBe(true);
  });
});

describe('output-dir helpers', () => {
  it('inspects a dataset folder by its marker and owned names', async () => {
    const out = next();
    expect(await inspectOutputDir(out, DATASET_OUTPUT)).toEqual({ kind: 'absent' });
    await prep(out, [LOG]);
    expect(await inspectOutputDir(out, DATASET_OUTPUT)).toEqual({ kind: 'own' });
    writeFileSync(join(out, 'manifest.json'), 'not json');
    expect(await inspectOutputDir(out, DATASET_OUTPUT)).toEqual({ kind: 'foreign', foreign: [], marked: false });
  });

  it('checkOutputFile allows an absent file, refuses an existing one unless forced, and a folder always', async () => {
    const dir = next();
    mkdirSync(dir, { recursive: true });
    await checkOutputFile(join(dir, 'a.csv'), false);
    writeFileSync(join(dir, 'a.csv'), 'x');
    await expect(checkOutputFile(join(dir, 'a.csv'), false)).rejects.toThrow(/already exists.*--force/);
    await checkOutputFile(join(dir, 'a.csv'), true);
    await expect(checkOutputFile(dir, true)).rejects.toThrow(/is a folder/);
    await expect(checkOutputFile(join(dir, 'a.csv', 'b.csv'), false)).rejects.toThrow(/ENOTDIR/);
  });

  it('inputsInside finds inputs at any depth, by real path', async () => {
    const dir = next();
    mkdirSync(join(dir, 'sub'), { recursive: true });
    writeFileSync(join(dir, 'sub', 'a.csv'), '');
    expect(await inputsInside(dir, [join(dir, 'sub', 'a.csv'), LOG, `${dir}-sibling/x.csv`])).toEqual([join('sub', 'a.csv')]);
  });
});
