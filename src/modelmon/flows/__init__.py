"""The batch path: a Prefect flow that compares a period of stored events with the reference.

- :mod:`modelmon.flows.periods`: durations (``24h``, ``30m``, ``1d``) and backfill periods;
- :mod:`modelmon.flows.frames`: store frames renamed to the model's column names;
- :mod:`modelmon.flows.reference`: the reference profile, cached across runs;
- :mod:`modelmon.flows.current`: a period's events profiled chunk by chunk, and the report built from them;
- :mod:`modelmon.flows.batch`: the Prefect flow ``batch_report`` and its tasks;
- :mod:`modelmon.flows.schedule`: serving the flow on a cron or interval schedule.

Only the last two import Prefect (the ``batch`` extra); ``import modelmon.flows`` does not.
"""

from __future__ import annotations
