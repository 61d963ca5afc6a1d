/**
 * Where each tile goes on the stage: pure geometry, no DOM. The tiles are laid out in
 * rows (in order); every row shares one scale, each tile keeps its video's aspect ratio
 * (a rotated feed passes its rotated aspect), and the player's own view may be drawn
 * smaller than the others. Of every way to split the tiles into rows, the one whose
 * video covers the most of the stage wins.
 * @module layout
 */

/**
 * @typedef {{id: string, aspect: number, scale?: number}} TileSpec
 *   aspect is width / height as shown; scale shrinks a tile against the others (1 = full)
 * @typedef {{x: number, y: number, w: number, h: number}} Rect
 * @typedef {{rects: Map<string, Rect>, used: number}} Layout
 *   used is the fraction of the stage's area that video covers
 */

/** The spotlight strip: a share of the stage's short side, within these bounds (px). */
const STRIP = { share: 0.2, min: 96, max: 240 };

/**
 * @param {{width: number, height: number, gap?: number, tiles: TileSpec[]}} stage
 * @returns {Layout}
 */
export function layoutGrid({ width, height, gap = 0, tiles }) {
  const rects = new Map();
  if (!tiles.length || width <= 0 || height <= 0) return { rects, used: 0 };
  // A smaller own view is a preference, not a hole: where the others would not shrink,
  // it grows into space that would otherwise stay empty, never past the smallest other.
  const floor = bestRows(tiles, width, height, gap);
  let best = floor;
  for (const grow of GROWTH) {
    const grown = tiles.map((tile) => ({
      ...tile, scale: Math.max(scaleOf(tile), grow), small: scaleOf(tile) < 1,
    }));
    const rows = bestRows(grown, width, height, gap);
    if (rows.fullArea >= floor.fullArea * 0.99 && rows.largestSmall <= rows.smallestFull + 1) {
      best = rows;
      break;
    }
  }
  placeRows(best.split, best.unit, { x: 0, y: 0, w: width, h: height }, gap, rects);
  return { rects, used: best.area / (width * height) };
}

/** The sizes a smaller own view may grow to, largest first. */
const GROWTH = [1, 0.9, 0.8, 0.7, 0.6];

/** Of every split into rows, the one whose video covers the most. */
function bestRows(tiles, width, height, gap) {
  let best = null;
  for (let rows = 1; rows <= tiles.length; rows += 1) {
    for (const counts of rowCounts(tiles.length, rows)) {
      const split = splitRows(tiles, counts);
      const unit = rowUnit(split, width, height, gap);
      const area = coveredArea(tiles, unit);
      if (!best || area > best.area + 1e-6) {
        const small = (tile) => scaleOf(tile) < 1 || tile.small;
        const areas = (pick) => tiles.filter(pick).map((tile) => coveredArea([tile], unit));
        best = {
          split, unit, area,
          fullArea: coveredArea(tiles.filter((tile) => !small(tile)), unit),
          largestSmall: Math.max(0, ...areas(small)),
          smallestFull: Math.min(Infinity, ...areas((tile) => !small(tile))),
        };
      }
    }
  }
  return best;
}

/**
 * One tile large, the others in a strip beside it (on the right when the stage is
 * wider than tall, below it otherwise).
 * @param {{width: number, height: number, gap?: number, tiles: TileSpec[],
 *          spotlight: string}} stage
 * @returns {Layout}
 */
export function layoutSpotlight({ width, height, gap = 0, tiles, spotlight }) {
  const main = tiles.find((tile) => tile.id === spotlight);
  const others = tiles.filter((tile) => tile !== main);
  if (!main || !others.length) return layoutGrid({ width, height, gap, tiles });
  const wide = width >= height;
  const side = wide ? width : height;
  const strip = Math.round(Math.min(STRIP.max, Math.max(STRIP.min, side * STRIP.share)));
  const mainBox = wide ? { x: 0, y: 0, w: width - strip - gap, h: height }
    : { x: 0, y: 0, w: width, h: height - strip - gap };
  const stripBox = wide ? { x: width - strip, y: 0, w: strip, h: height }
    : { x: 0, y: height - strip, w: width, h: strip };
  const rects = new Map();
  rects.set(main.id, fit(main.aspect, mainBox));
  const flat = others.map((tile) => ({ ...tile, scale: 1 }));
  const rest = layoutGrid({ width: stripBox.w, height: stripBox.h, gap, tiles: flat });
  for (const [id, rect] of rest.rects) {
    rects.set(id, { ...rect, x: rect.x + stripBox.x, y: rect.y + stripBox.y });
  }
  let area = 0;
  for (const rect of rects.values()) area += rect.w * rect.h;
  return { rects, used: area / (width * height) };
}

/** The largest rect of this aspect inside box, centred. @returns {Rect} */
export function fit(aspect, box) {
  const w = Math.min(box.w, box.h * aspect);
  const h = w / aspect;
  return { x: box.x + (box.w - w) / 2, y: box.y + (box.h - h) / 2, w, h };
}

/**
 * Every way to put n tiles in this many rows with counts differing by at most one
 * (the rows that get one more vary: a small own view changes which split is best).
 * @returns {number[][]}
 */
export function rowCounts(n, rows) {
  const base = Math.floor(n / rows);
  const extra = n % rows;
  const out = [];
  const pick = (start, left, chosen) => {
    if (!left) {
      out.push(Array.from({ length: rows }, (_, i) => base + (chosen.includes(i) ? 1 : 0)));
      return;
    }
    for (let i = start; i <= rows - left; i += 1) pick(i + 1, left - 1, [...chosen, i]);
  };
  pick(0, extra, []);
  return out;
}

/** @param {TileSpec[]} tiles @param {number[]} counts @returns {TileSpec[][]} */
function splitRows(tiles, counts) {
  const rows = [];
  let at = 0;
  for (const count of counts) {
    rows.push(tiles.slice(at, at + count));
    at += count;
  }
  return rows;
}

/**
 * The height of a full-size tile when every row fits the stage's width and all rows
 * together fit its height.
 * @param {TileSpec[][]} rows
 */
function rowUnit(rows, width, height, gap) {
  let tall = 0;
  let unit = Infinity;
  for (const row of rows) {
    const wide = row.reduce((sum, tile) => sum + tile.aspect * scaleOf(tile), 0);
    unit = Math.min(unit, (width - gap * (row.length - 1)) / wide);
    tall += Math.max(...row.map(scaleOf));
  }
  return Math.max(0, Math.min(unit, (height - gap * (rows.length - 1)) / tall));
}

function coveredArea(tiles, unit) {
  return tiles.reduce((sum, tile) => {
    const h = unit * scaleOf(tile);
    return sum + h * h * tile.aspect;
  }, 0);
}

/** Rows centred on the stage, tiles centred in their row. */
function placeRows(rows, unit, box, gap, rects) {
  const heights = rows.map((row) => unit * Math.max(...row.map(scaleOf)));
  const total = heights.reduce((a, b) => a + b, 0) + gap * (rows.length - 1);
  let y = box.y + (box.h - total) / 2;
  rows.forEach((row, r) => {
    const widths = row.map((tile) => unit * scaleOf(tile) * tile.aspect);
    let x = box.x + (box.w - widths.reduce((a, b) => a + b, 0) - gap * (row.length - 1)) / 2;
    row.forEach((tile, i) => {
      const h = unit * scaleOf(tile);
      rects.set(tile.id, { x, y: y + (heights[r] - h) / 2, w: widths[i], h });
      x += widths[i] + gap;
    });
    y += heights[r] + gap;
  });
}

/** @param {TileSpec} tile */
function scaleOf(tile) {
  return tile.scale ?? 1;
}
