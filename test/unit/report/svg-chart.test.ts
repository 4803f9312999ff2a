import { describe, expect, it } from 'vitest';
import { escapeXml, lineChartSvg, niceTicks } from '../../../src/report/svg-chart.js';

/** Every `<tag` has its `</tag>` or is self-closed: enough to catch a broken string build. */
function balanced(svg: string): boolean {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-z]+)[^>]*?(\/?)>/g)) {
    if (m[3] === '/') continue;
    if (m[1] === '/') {
      if (stack.pop() !== m[2]) return false;
    } else stack.push(m[2]);
  }
  return stack.length === 0;
}

function points(svg: string): [number, number][] {
  return [...svg.matchAll(/<circle cx="([-\d.]+)" cy="([-\d.]+)"/g)].map((m) => [Number(m[1]), Number(m[2])]);
}

describe('niceTicks (Heckbert)', () => {
  it('covers the range with round steps', () => {
    expect(niceTicks(0.12, 0.87, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(1, 10, 5)).toEqual([0, 2, 4, 6, 8, 10]);
  });
  it('pads a single value so the axis is not empty', () => {
    const t = niceTicks(3, 3);
    expect(t[0]).toBeLessThan(3);
    expect(t[t.length - 1]).toBeGreaterThan(3);
  });
  it('has nothing to say about non-finite bounds', () => {
    expect(niceTicks(Number.NaN, 1)).toEqual([]);
  });
});

describe('lineChartSvg', () => {
  const spec = {
    title: 'loss <a&b>',
    xLabel: 'epoch',
    yLabel: 'loss',
    integerX: true,
    series: [
      { name: 'run "one"', points: [[1, 0.9], [2, 0.5], [3, 0.4]] as [number, number][] },
      { name: 'two', points: [[1, 0.8], [2, Number.NaN], [3, 0.2]] as [number, number][] },
    ],
  };

  it('is one balanced svg element with a polyline per series and a legend', () => {
    const svg = lineChartSvg(spec);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.endsWith('</svg>')).toBe(true);
    expect(balanced(svg)).toBe(true);
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg).toContain('>two</text>');
  });

  it('escapes titles and series names', () => {
    const svg = lineChartSvg(spec);
    expect(svg).toContain('loss &lt;a&amp;b&gt;');
    expect(svg).toContain('run &quot;one&quot;');
    expect(svg).not.toContain('<a&b>');
  });

  it('draws every finite point inside the plot area, and skips NaN', () => {
    const svg = lineChartSvg({ ...spec, width: 500, height: 300 });
    const ps = points(svg);
    expect(ps).toHaveLength(5);
    for (const [x, y] of ps) {
      expect(x).toBeGreaterThanOrEqual(60);
      expect(x).toBeLessThanOrEqual(500 - 16);
      expect(y).toBeGreaterThanOrEqual(32);
      expect(y).toBeLessThanOrEqual(300 - 44);
    }
    // A lower loss is drawn lower on the page (larger y), the same epoch at the same x.
    const one = ps.slice(0, 3);
    expect(one[0][1]).toBeLessThan(one[1][1]);
    expect(one[0][0]).toBe(ps[3][0]);
    expect(svg).not.toContain('NaN');
  });

  it('says "no data" rather than drawing an empty axis', () => {
    const svg = lineChartSvg({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 's', points: [] }] });
    expect(svg).toContain('no data');
    expect(balanced(svg)).toBe(true);
  });

  it('escapeXml covers the five XML specials', () => {
    expect(escapeXml(`<&>"'`)).toBe('&lt;&amp;&gt;&quot;&#39;');
  });
});
