"""How many current values each drift test needs before its verdict is given: quiet warm-up.

A window that has just started (a fresh deploy, a restart) holds a few rows. A distance on a few
rows is mostly noise, and noise is biased upwards: the normed Wasserstein distance between 200 rows
of a normal column and its own reference has a median of 0.087 against the 0.1 threshold, so half
the columns of a stationary stream would "drift" and the dataset would drift with them. Below the
minimum a column's test reports ``insufficient_data`` instead of a verdict, and the dataset verdict
waits until the window has the rows every feature's test needs.

====================  ============  ============================================================
test                  min rows      why
====================  ============  ============================================================
``ks``                30            p-value tests keep their false-alarm rate at any size; below 30
``chisquare``         30            values they have next to no power, and chi-square and the Z-test
``z``                 30            rest on normal approximations
``wasserstein``       600           95th percentile of the null normed distance below 0.1
``jensenshannon``     500           same, for up to 20 categories
``psi``               500           binned like Jensen-Shannon
``kl_div``            500           binned like Jensen-Shannon
``hellinger``         500           binned like Jensen-Shannon
====================  ============  ============================================================

The distances' rows come from the null distribution of the statistic between a current sample and
a 20,000-row reference drawn from the same law (``python -m bench.drift_min_rows``, in
``bench/RESULTS.md``): from 600 rows the normed Wasserstein distance of a normal column stays below
0.1 in 95 % of draws (0.086; 0.106 at 500), so a distance test then says "drift" on a stationary
column no more often than a p-value test at 0.05 does; Jensen-Shannon over 20 categories likewise
from 500 rows (0.090). These are the defaults
for the default thresholds; ``DriftSettings(min_rows=N)`` sets one minimum for every test (0 turns
the warm-up off).

>>> MIN_ROWS["wasserstein"], MIN_ROWS["ks"]
(600, 30)
"""

from __future__ import annotations

__all__ = ["MIN_ROWS"]

#: test name -> valid current values it needs for a verdict
MIN_ROWS: dict[str, int] = {
    "ks": 30,
    "chisquare": 30,
    "z": 30,
    "wasserstein": 600,
    "jensenshannon": 500,
    "psi": 500,
    "kl_div": 500,
    "hellinger": 500,
}
