"""Jupyter plumbing: the project's kernel, encrypted kernel transport, batch progress bars, ``make lab``.

* Kernels that papermill (``mammo reproduce``) and JupyterLab start talk to them over localhost TCP. ipykernel
  warns "Kernel is running over TCP without encryption" unless the kernel manager provisions CurveZMQ keys,
  which jupyter_client does only when its ``transport_encryption`` policy is ``auto`` (the default is
  ``disabled``). :class:`EncryptedKernelManager` and :func:`lab_command` turn it on, so the warning's cause
  is removed rather than filtered.
* :data:`KERNEL_NAME` is the project's kernelspec, installed into the venv (``sys.prefix``) by
  :func:`ensure_kernelspec`; Lab starts it by default.
* Progress bars: ``mammo_lib.progress.tqdm`` draws widgets in an interactive kernel and text in batch
  kernels; :func:`batch_kernels` marks the kernels started inside it as batch ones.
* ``make lab`` runs ``python -m mammo_lib.run.jupyter``: JupyterLab on ``notebooks/`` with the project's kernel,
  ``--allow-root`` only when run as root (JupyterLab refuses root otherwise).
"""
from __future__ import annotations

import contextlib
import json
import os
import shlex
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import default

from mammo_lib.paths import REPO_ROOT
from mammo_lib.progress import BATCH_ENV

#: The project's kernelspec (a named kernel of the venv's own Python).
KERNEL_NAME = "mammo-companion"
KERNEL_DISPLAY_NAME = "Python 3 (mammo-companion)"


def _encryption_policy() -> str:
    """``auto`` (CurveZMQ keys whenever the kernelspec supports them) where pyzmq has CurveZMQ."""
    import zmq

    return "auto" if zmq.has("curve") else "disabled"


class EncryptedKernelManager(AsyncKernelManager):
    """nbclient's default kernel manager, provisioning CurveZMQ keys for the kernel's sockets.

    It also skips the SIGINT that jupyter_client sends before every shutdown request: papermill shuts the
    kernel down only after its last cell, so there is nothing to interrupt, and a kernel that the signal catches
    inside a message handler prints "KeyboardInterrupt caught in kernel." into the run's output. A kernel that
    does not stop is still terminated and then killed by the shutdown sequence.
    """

    @default("transport_encryption")
    def _transport_encryption_default(self) -> str:
        return _encryption_policy()

    async def _async_interrupt_kernel(self) -> None:
        if self.shutting_down:
            return
        await super()._async_interrupt_kernel()


@contextlib.contextmanager
def batch_kernels() -> Iterator[None]:
    """Kernels started inside this block (they inherit the environment) draw text progress bars."""
    before = os.environ.get(BATCH_ENV)
    os.environ[BATCH_ENV] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(BATCH_ENV, None)
        else:
            os.environ[BATCH_ENV] = before


def kernelspec_dir(prefix: str | Path | None = None) -> Path:
    """Where the project's kernelspec lives: ``<prefix>/share/jupyter/kernels/mammo-companion``."""
    return Path(sys.prefix if prefix is None else prefix) / "share" / "jupyter" / "kernels" / KERNEL_NAME


def ensure_kernelspec(prefix: str | Path | None = None) -> Path:
    """Install the project's kernelspec into the venv (``prefix``, default ``sys.prefix``) unless it is there
    and runs this Python; return its folder. The kernel runs ``sys.executable`` (the venv's Python)."""
    folder = kernelspec_dir(prefix)
    spec = folder / "kernel.json"
    if spec.is_file():
        try:
            if json.loads(spec.read_text())["argv"][0] == sys.executable:
                return folder
        except (ValueError, KeyError, IndexError):
            pass
    from ipykernel.kernelspec import install

    install(prefix=str(Path(sys.prefix if prefix is None else prefix)), kernel_name=KERNEL_NAME,
            display_name=KERNEL_DISPLAY_NAME)
    return folder


def lab_command(notebook_dir: str | Path | None = None, extra: Sequence[str] = ()) -> list[str]:
    """The JupyterLab command line of ``make lab``: the project's kernel by default, CurveZMQ kernel transport,
    ``--allow-root`` only for uid 0; ``extra`` is passed on (e.g. ``--port``, ``--no-browser``)."""
    folder = Path(notebook_dir) if notebook_dir is not None else REPO_ROOT / "notebooks"
    cmd = [sys.executable, "-m", "jupyterlab", str(folder),
           f"--MappingKernelManager.default_kernel_name={KERNEL_NAME}",
           f"--KernelManager.transport_encryption={_encryption_policy()}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    return cmd + list(extra)


def main(argv: Sequence[str] | None = None) -> int:
    """``make lab``: install the kernelspec if needed, then replace this process by JupyterLab."""
    args = list(sys.argv[1:] if argv is None else argv)
    ensure_kernelspec()
    cmd = lab_command(extra=args)
    print("starting:", shlex.join(cmd[1:]), file=sys.stderr)
    os.execv(cmd[0], cmd)
    return 0  # pragma: no cover - execv does not return


class NotebookInterrupted(Exception):
    """Raised before a cell starts once Ctrl-C was pressed: an ordinary exception, so that nbclient shuts the
    kernel down on its way out (a KeyboardInterrupt would leave asyncio's loop at once, kernel and tasks pending)."""


class GracefulInterrupt:
    """Ctrl-C during a notebook: stop it cleanly. The first SIGINT interrupts the kernel's running cell (the
    kernel runs in its own session, so the terminal's signal never reaches it) and keeps the next cell from
    starting; papermill and nbclient then end as after a failed cell and shut the kernel down. A second SIGINT
    interrupts at once. Outside ``with`` the process's own SIGINT handler is in force."""

    def __init__(self) -> None:
        self.requested = False
        self.managers: list[Any] = []
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> GracefulInterrupt:
        import signal
        import threading

        self._installed = threading.current_thread() is threading.main_thread()  # only it may set a handler
        if self._installed:
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        if self._installed:
            signal.signal(signal.SIGINT, self._previous)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        import signal

        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        for manager in self.managers:
            process = getattr(getattr(manager, "provisioner", None), "process", None)
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGINT)

    def manager_class(self, base: type) -> type:
        """``base`` (a jupyter_client KernelManager class) whose instances this interrupt can reach."""
        owner = self

        class Manager(base):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                owner.managers.append(self)

        return Manager

    def before_cell(self, cell: Any = None, cell_index: int | None = None, **kwargs: Any) -> None:
        """nbclient's ``on_cell_start`` hook: after Ctrl-C no further cell starts."""
        if self.requested:
            raise NotebookInterrupted(f"interrupted before cell {cell_index}")


def mark_unrun_cells(path: Path) -> int:
    """After an interrupt, make an executed notebook say what ran: the cell stopped by the interrupt gets papermill
    status "interrupted", and every later cell, which never ran (papermill's clean-up marks them "completed"),
    status "pending" with no execution count, outputs or times. Returns how many cells did not run."""
    import nbformat

    if not path.is_file():
        return 0
    nb = nbformat.read(str(path), as_version=4)
    stopped: int | None = None
    for index, cell in enumerate(nb.cells):
        meta = cell.metadata.get("papermill")
        if meta is None:  # papermill's own error-marker cells
            continue
        interrupted = any(o.get("output_type") == "error" and o.get("ename") == "KeyboardInterrupt"
                          for o in cell.get("outputs", []))
        never_ran = cell.cell_type == "code" and cell.source.strip() and cell.get("execution_count") is None
        if interrupted or never_ran or meta.get("status") == "running":
            stopped = index
            if interrupted or meta.get("status") == "running":
                meta["status"] = "interrupted"
                stopped += 1
            break
    if stopped is None:
        return 0
    unrun = 0
    for cell in nb.cells[stopped:]:
        meta = cell.metadata.get("papermill")
        if meta is None:
            continue
        meta.update(status="pending", start_time=None, end_time=None, duration=None, exception=None)
        if cell.cell_type == "code":
            cell.execution_count = None
            cell.outputs = []
            unrun += 1
    nbformat.write(nb, str(path))
    return unrun


if __name__ == "__main__":
    raise SystemExit(main())
