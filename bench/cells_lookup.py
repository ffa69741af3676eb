"""The engine's cell lookup against one binary search per value, on columns of several shapes.

    python -m bench.cells_lookup [--rows 1000000]

For each shape, 1,000 quantile edges are taken from one draw and the cells of another draw are
found by ``cells_of`` (one ``searchsorted`` per value over the edges) and by ``EdgeLookup.cells``;
then the whole column profile (``NumericalColumn.from_values``: cells a cache-sized block at a
time, counts, sums, range) is built with each. The lookup is checked to give exactly the cells of
the search. Prints a markdown table: milliseconds per column, speed-ups, and which slots the
lookup chose (uniform in value or in float bits) with the share of values it still searched.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from modelmon.engine.cells import EdgeLookup, cells_of
from modelmon.engine.columns import NumericalColumn

SHAPES: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "normal(10, 1)": lambda rng, n: rng.normal(10, 1, n),
    "lognormal(1, 0.5)": lambda rng, n: rng.lognormal(1, 0.5, n),
    "gamma(2, 2)": lambda rng, n: rng.gamma(2, 2, n),
    "lognormal(0, 2) (skewed)": lambda rng, n: rng.lognormal(0, 2, n),
    "Pareto(1) (heavy tail)": lambda rng, n: rng.pareto(1.0, n),
    "Cauchy (heavy tails both sides)": lambda rng, n: rng.standard_cauchy(n),
    "integers 0-499 (exact edges)": lambda rng, n: rng.integers(0, 500, n).astype(float),
}


def best_of(function: Callable[[], object], repeats: int = 5) -> float:
    """The fastest of ``repeats`` runs, in seconds."""
    fastest = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        fastest = min(fastest, time.perf_counter() - started)
    return fastest


def measure(shape: str, rows: int) -> str:
    """One table row for ``shape``; an error if any way gives other cells than the search."""
    rng = np.random.default_rng(7)
    draw = SHAPES[shape]
    edges = np.unique(np.quantile(draw(rng, rows), np.linspace(0, 1, 1001)))
    values = draw(rng, rows)
    lookup = EdgeLookup(edges)
    expected = cells_of(edges, values)
    if not np.array_equal(lookup.cells(values), expected):
        raise SystemExit(f"{shape}: EdgeLookup gives other cells than cells_of")
    column = NumericalColumn.from_values(edges, values, lookup=lookup)
    if not np.array_equal(column.cell_counts, np.bincount(expected, minlength=2 * len(edges) + 1)):
        raise SystemExit(f"{shape}: from_values counts other cells than cells_of")
    search = best_of(lambda: cells_of(edges, values))
    whole = best_of(lambda: lookup.cells(values))
    profile_search = best_of(lambda: NumericalColumn.from_values(edges, values))
    profile_lookup = best_of(lambda: NumericalColumn.from_values(edges, values, lookup=lookup))
    slots = lookup._slots(values, lookup._bits)
    searched = float(lookup._crowded[slots].mean()) if lookup._any_crowded else 0.0
    return (
        f"| {shape} | {search * 1e3:.1f} | {whole * 1e3:.1f} | {search / whole:.1f}x "
        f"| {profile_search * 1e3:.1f} | {profile_lookup * 1e3:.1f} | {profile_search / profile_lookup:.1f}x "
        f"| {'float bits' if lookup._bits else 'value'} | {searched:.1%} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    print(
        f"| column shape ({args.rows:,} values, 1,000 edges) | cells: search ms | cells: lookup ms "
        "| speed-up | column profile: search ms | column profile: lookup ms | speed-up "
        "| slots uniform in | values searched |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for shape in SHAPES:
        print(measure(shape, args.rows), flush=True)


if __name__ == "__main__":
    main()
