"""Demo material: datasets with injectable incidents, example models, and the files a demo needs.

The generators (``modelmon.demo.data``), incidents (``modelmon.demo.incidents``) and models
(``modelmon.demo.models``) are imported from their modules; this package imports nothing itself, so
the example prediction service can load a model without pulling in the rest.
"""
