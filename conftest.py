"""Repository-wide pytest set-up, for the unit tests and for nbval over notebooks/ alike.

Kernels that nbval starts inherit this process's environment: marked as batch kernels, they draw text
progress bars and show the widgets' static default views (mammo_lib.progress, mammo_lib.paper.teaching), exactly
as under `mammo reproduce`, so that the checked outputs are deterministic.
"""
from __future__ import annotations

import os

from mammo_lib.progress import BATCH_ENV

os.environ.setdefault(BATCH_ENV, "1")
