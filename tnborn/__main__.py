"""``python -m tnborn``: the `tnborn` command (see :mod:`tnborn.cli`)."""

from .cli import main

raise SystemExit(main())
