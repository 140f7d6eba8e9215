"""``python -m mammo_lib`` is the ``mammo`` command."""
from mammo_lib.cli import main

raise SystemExit(main())
