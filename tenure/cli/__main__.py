"""``python -m tenure.cli``: the same app as the ``tenure`` command."""

from tenure.cli import main

main()
