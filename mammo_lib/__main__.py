"""``python -m mammo_lib`` is the ``mammo`` command."""
from mammo_lib.cli import main

if __name__ == "__main__":  # not again in a spawned worker (mammo analyze --device cuda), which imports this module
    raise SystemExit(main())
