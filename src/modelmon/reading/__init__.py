"""Reading the datasets of a report: :mod:`modelmon.reading.plan` decides how (chunks under a memory
budget, the schema inferred from the reference, the columns checked, large parquet footers walked
first) for every entry point: :func:`~modelmon.build_report`, ``modelmon report`` and ``check``, the
batch flow and Dask.

The package itself imports nothing, so a command can import a light module of it before numpy and
pandas.
"""
