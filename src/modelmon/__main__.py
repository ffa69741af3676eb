"""``python -m modelmon``: the same as the ``modelmon`` command."""

from modelmon.cli import main

main()
