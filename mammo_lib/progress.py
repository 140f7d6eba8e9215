"""Progress bars: widgets in an interactive Jupyter kernel, text everywhere else.

``tqdm.auto`` picks widget bars in any Jupyter kernel once ipywidgets is installed, also in papermill and
nbval runs, where no one sees them and the executed notebook would store widget views instead of text.
Batch kernels are started with ``MAMMO_BATCH_KERNEL`` set (:func:`mammo_lib.run.jupyter.batch_kernels`, the
test suite's conftest); there this gives the text bar.
"""
from __future__ import annotations

import os
from typing import Any

BATCH_ENV = "MAMMO_BATCH_KERNEL"


def tqdm_class() -> type:
    """``tqdm.auto.tqdm`` (widget bar in Lab), or ``tqdm.std.tqdm`` in batch kernels and consoles."""
    if os.environ.get(BATCH_ENV):
        from tqdm.std import tqdm as text_bar

        return text_bar
    from tqdm.auto import tqdm as auto_bar

    return auto_bar


def tqdm(*args: Any, **kwargs: Any) -> Any:
    """A progress bar of :func:`tqdm_class` (same arguments as ``tqdm.tqdm``)."""
    return tqdm_class()(*args, **kwargs)
