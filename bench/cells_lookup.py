"""Two faster ways to find the cells of numerical values, checked cell for cell against the engine's.

    python -m bench.cells_lookup [--rows 1000000]

The engine's ``cells_of`` (``modelmon.engine.columns``) does one binary search per value over the
reference's ~1,000 edges: half of the drift section's computing time at 1M rows (see
``bench.drift_stages``). This measures, on the 15 numerical columns of the drift benchmark data:

- **grid lookup** for any values (current chunks): a uniform grid of 65,536 cells between the first
  and the last edge, each knowing how many edges lie at or below its start; a value in a grid cell
  that holds no edge gets its cell from that table, and only the values in grid cells holding an
  edge (or outside the edges) are searched;
- **from sorted values** for the reference, which ``ProfileSpec.fit`` sorts anyway to choose its
  edges: cell counts from ``searchsorted(sorted_values, edges)`` (1,000 searches instead of one per
  value) and cell sums from a cumulative sum.

Both are checked to give exactly the engine's cell counts (and sums to rounding). Nothing here is
used by modelmon; it shows what the engine could gain.
"""

from __future__ import annotations

import argparse
import time
from typing import NamedTuple

import numpy as np

from bench.datasets import NUMERICAL, frame
from modelmon.engine.columns import NumericalColumn, cells_of
from modelmon.engine.profile import DEFAULT_MAX_BINS, _edges

GRID = 1 << 16


class Grid(NamedTuple):
    low: float
    high: float
    scale: float
    first: np.ndarray  # edges at or below each grid cell's start
    holds_edge: np.ndarray  # grid cells with an edge inside, where the table is not enough


def grid_of(edges: np.ndarray, cells: int = GRID) -> Grid:
    low, high = float(edges[0]), float(edges[-1])
    scale = cells / (high - low) if high > low else 0.0
    starts = low + np.arange(cells + 1) / scale if scale else np.full(cells + 1, low)
    first = np.searchsorted(edges, starts[:-1], side="right")
    return Grid(low, high, scale, first, first != np.searchsorted(edges, starts[1:], side="right"))


def cells_by_grid(edges: np.ndarray, values: np.ndarray, grid: Grid) -> np.ndarray:
    """The same cells as ``cells_of(edges, values)``."""
    slot = ((values - grid.low) * grid.scale).astype(np.int64)
    np.clip(slot, 0, len(grid.first) - 1, out=slot)
    right = grid.first[slot]
    search = grid.holds_edge[slot] | (values < grid.low) | (values >= grid.high)
    right[search] = np.searchsorted(edges, values[search], side="right")
    previous = np.concatenate(([-np.inf], edges))[right]
    cells = right * 2
    cells -= previous == values
    return cells


def counts_from_sorted(edges: np.ndarray, ordered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cell counts and sums of already sorted values (the engine's cell order)."""
    bounds = np.empty(2 * len(edges) + 2, dtype=np.int64)
    bounds[0], bounds[-1] = 0, len(ordered)
    bounds[1:-1:2] = np.searchsorted(ordered, edges, side="left")
    bounds[2:-1:2] = np.searchsorted(ordered, edges, side="right")
    running = np.concatenate(([0.0], np.cumsum(ordered)))
    return np.diff(bounds), np.diff(running[bounds])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    reference, current = frame(args.rows, seed=1, shifted=False), frame(args.rows, seed=2, shifted=True)
    seconds = dict.fromkeys(("engine current", "grid current", "engine reference", "sorted reference"), 0.0)
    searched = []
    for name in NUMERICAL:
        ordered = np.sort(reference[name].to_numpy())  # what _edges does already
        edges, _ = _edges(ordered, DEFAULT_MAX_BINS)
        grid = grid_of(edges)
        values = current[name].to_numpy()
        started = time.perf_counter()
        engine = cells_of(edges, values)
        seconds["engine current"] += time.perf_counter() - started
        started = time.perf_counter()
        fast = cells_by_grid(edges, values, grid)
        seconds["grid current"] += time.perf_counter() - started
        if not np.array_equal(engine, fast):
            raise SystemExit(f"{name}: the grid lookup gives other cells than cells_of")
        slot = np.clip(((values - grid.low) * grid.scale).astype(np.int64), 0, GRID - 1)
        searched.append(float((grid.holds_edge[slot] | (values < grid.low) | (values >= grid.high)).mean()))
        raw = reference[name].to_numpy()
        started = time.perf_counter()
        column = NumericalColumn.from_values(edges, raw)
        seconds["engine reference"] += time.perf_counter() - started
        started = time.perf_counter()
        counts, sums = counts_from_sorted(edges, ordered)
        seconds["sorted reference"] += time.perf_counter() - started
        if not (np.array_equal(counts, column.cell_counts) and np.allclose(sums, column.cell_sums)):
            raise SystemExit(f"{name}: counts from sorted values differ from the engine's")
    work = f"work ({len(NUMERICAL)} numerical columns x {args.rows:,} rows)"
    print(f"| {work} | engine s | alternative s | speed-up |")
    print("|---|---|---|---|")
    print(
        f"| cells of the current values: grid lookup (searched: {np.mean(searched):.1%} of values) "
        f"| {seconds['engine current']:.2f} | {seconds['grid current']:.2f} "
        f"| {seconds['engine current'] / seconds['grid current']:.1f}x |"
    )
    print(
        f"| reference column summaries (cells, counts, sums): from the sorted values "
        f"| {seconds['engine reference']:.2f} | {seconds['sorted reference']:.2f} "
        f"| {seconds['engine reference'] / seconds['sorted reference']:.1f}x |"
    )


if __name__ == "__main__":
    main()
