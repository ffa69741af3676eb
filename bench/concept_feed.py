"""What the concept detectors cost the service: CPU microseconds per labelled event, fed in batches.

    python -m bench.concept_feed [--events 200000] [--batch 500]
    PYTHONPATH=bench/anchor/COMMIT/src:. python -m bench.concept_feed   # the same, older code

The service feeds each recompute's newly labelled rows to the model's
:class:`~modelmon.engine.concept.ConceptMonitor` at once. This feeds ``--events`` errors in batches
of ``--batch`` to a monitor built from 5,000 reference errors, for each task (regression: ADWIN and
Page-Hinkley on the clipped, scaled absolute error; classification: DDM and ADWIN on 0/1 errors),
on a stream whose error level steps up three times, and prints the process CPU time per event
(best of ``--repeat``) and the detections found, which must not change between versions.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _stream(task: str, events: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    levels = np.repeat([1.0, 1.6, 1.0, 2.5], -(-events // 4))[:events]
    errors = np.abs(rng.normal(0.0, levels))
    reference = np.abs(rng.normal(0.0, 1.0, 5000))
    if task == "classification":
        return (errors > 1.5).astype(float), (reference > 1.5).astype(float)
    return errors, reference


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from modelmon.engine.concept import ConceptMonitor

    print(f"| task | CPU us per event (best of {args.repeat}) | detections |")
    print("|---|---|---|")
    for task in ("regression", "classification"):
        errors, reference = _stream(task, args.events)
        best, found = float("inf"), {}
        for _ in range(args.repeat):
            monitor = ConceptMonitor.from_reference(task, reference)
            start = time.process_time()
            for at in range(0, len(errors), args.batch):
                monitor.update(errors[at : at + args.batch])
            best = min(best, time.process_time() - start)
            found = monitor.detections
        shown = ", ".join(
            f"{name} {len(positions)} (first {positions[:3]})" for name, positions in found.items()
        )
        print(f"| {task} | {best * 1e6 / len(errors):.2f} | {shown} |")


if __name__ == "__main__":
    main()
