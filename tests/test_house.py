"""The house itself: mammo_lib is a few rooms by role whose imports run one way (no cycle, function-level imports and
the imports that package ``__init__`` files trigger included), modules stay small, the README's layout names every
room and notebook, and ``import mammo_lib`` and the CLI's start stay free of the heavy libraries."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mammo_lib.paths import REPO_ROOT

PACKAGE = REPO_ROOT / "mammo_lib"
#: Lines above which a module must say why it is larger.
MAX_LINES = 500
#: The rooms, lowest first: a module may import its own room and the rooms of lower layers, never a room of its own
#: layer or a higher one. The foundation modules (top-level files) import only each other. ``cli`` dispatches to a
#: subcommand's module by name (importlib), so it adds no edge. ``evaluation`` sits below the models: their
#: validation metrics (recall at 1 FPI, AUC) are its statistics, and it needs nothing but the foundation.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("",),  # the foundation: vocab, errors, paths, checksums, progress, validation, published, cli
    ("data", "evaluation"),
    ("preprocess",),
    ("synth",),
    ("models",),
    ("training", "system"),
    ("paper",),
    ("run",),
)
#: Top-level modules allowed besides ``__init__`` and ``__main__`` (the foundation).
MAX_TOP_LEVEL_MODULES = 10
LARGER_BY_DESIGN: dict[str, str] = {
    "mammo_lib.paper.tables": "Tables 1-4 and their comparisons with the paper: one home per paper table, sharing "
                        "the mass-table readers; split, each table would import the others' helpers",
    "mammo_lib.training.loop": "the one training loop (seeds, checkpoints with exact resume, AMP, DDP, model selection, fine-tuning start)",
    "mammo_lib.data.dicomio": "one reader for DICOM MG (every transfer syntax, LUTs, photometric), PNG and TIFF, and the "
                              "lazy display mapping that lets mammo analyze keep stored values instead of float copies",
    "mammo_lib.evaluation.detection": "detection evaluation as the literature does it, in one place: hit criteria, "
                                      "matching, FROC, recall at FPI, the exam bootstrap and the fusion comparison "
                                      "all read the same matched candidates",
    "mammo_lib.run.pipeline": "mammo reproduce end to end: notebook selection, each notebook's declared inputs and "
                              "skip reasons, the training step, papermill with graceful interrupts, run.json",
    "mammo_lib.data.manifest": "the manifest schema, checked cell by cell so that every problem is reported at once",
    "mammo_lib.evaluation.mrmc": "one validated reader-study table feeding four covariance estimators, the OR/Hillis analysis, "
                      "DBM and AI vs readers, which all share the same components; split, each would import the others",
    "mammo_lib.synth.phantom_v2": "phantom v2's anatomy, one layered volume built in order (outline, compartments, "
                               "ligaments, ducts, vessels, masses), each step reading the previous ones' arrays",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """mammo_lib module -> the mammo_lib modules it imports anywhere in its source (top level or inside a
    function), ``from a import b`` counted as ``a.b`` when ``a.b`` is a module."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
                for alias in node.names:
                    targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
        # importing a.b.c runs the __init__ of a and a.b first: those imports are the importer's too
        targets |= {".".join(t.split(".")[:k]) for t in set(targets) for k in range(2, t.count(".") + 1)}
        graph[name] = {t for t in targets if t in modules and t != name and not name.startswith(t + ".")}
    return graph


def room(module: str) -> str:
    """The room of a mammo_lib module: its first package below mammo_lib ("" for a top-level module)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()) else ""


def layer(module: str) -> int:
    """The layer of a module's room (index into :data:`LAYERS`)."""
    found = [i for i, rooms in enumerate(LAYERS) if room(module) in rooms]
    assert found, f"{module}: room {room(module)!r} is in no layer of LAYERS"
    return found[0]


def layering_violations(graph: dict[str, set[str]]) -> list[str]:
    """Edges that import upwards, or sideways into another room of the same layer."""
    bad = []
    for module, targets in sorted(graph.items()):
        if module in ("mammo_lib", "mammo_lib.__main__", "mammo_lib.cli"):
            continue  # entry points: the lazy public API and the command
        for target in sorted(targets):
            if target == "mammo_lib":
                continue
            if layer(target) > layer(module) or (layer(target) == layer(module) and room(target) != room(module)):
                bad.append(f"{module} -> {target}")
    return bad


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first repeated at the end), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_find_cycle_reports_a_cycle_and_accepts_a_chain() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_mammo_lib_has_no_import_cycle() -> None:
    graph = import_graph()
    assert "mammo_lib.models.detection.network" in graph["mammo_lib.models.detection.task"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize("family", ["detection", "classification"])
def test_model_packages_import_one_way(family: str) -> None:
    """network <- data <- inference <- task: no file imports one that comes after it."""
    order = ["network", "patches", "data", "inference", "task"]
    graph = import_graph()
    prefix = f"mammo_lib.models.{family}."
    for module in (m for m in graph if m.startswith(prefix)):
        mine = module.removeprefix(prefix)
        for target in (t.removeprefix(prefix) for t in graph[module] if t.startswith(prefix)):
            assert order.index(target) < order.index(mine), f"{module} imports {prefix}{target}"


def test_import_graph_sees_the_imports_that_package_inits_trigger() -> None:
    graph = import_graph()
    # accuracy imports mammo_lib.preprocess.cache, which first runs mammo_lib/preprocess/__init__.py
    assert "mammo_lib.preprocess" in graph["mammo_lib.models.detection.data"]
    assert "mammo_lib.preprocess.view" in graph["mammo_lib.preprocess"]


def test_rooms_import_one_way() -> None:
    assert layering_violations({"mammo_lib.data.x": {"mammo_lib.paper.y"}, "mammo_lib.paper.y": set()}) == [
        "mammo_lib.data.x -> mammo_lib.paper.y"]
    assert layering_violations({"mammo_lib.system.exam.a": {"mammo_lib.training.on_cohort.b"}, "mammo_lib.training.on_cohort.b": set()}) == [
        "mammo_lib.system.exam.a -> mammo_lib.training.on_cohort.b"]
    violations = layering_violations(import_graph())
    assert not violations, "imports against the layers (CONTRIBUTING.md): " + "; ".join(violations)


def test_package_inits_import_only_their_own_room() -> None:
    """A package ``__init__`` runs whenever any of its modules is imported: it may re-export its own modules'
    names (preprocess, synth, adapters) but must not pull in other rooms, and most import nothing."""
    graph = import_graph()
    counts = {}
    for name in (n for n in graph if (PACKAGE / Path(*n.split(".")[1:]) / "__init__.py").is_file() and n != "mammo_lib"):
        outside = {t for t in graph[name] if not t.startswith(name + ".") and t.split(".")[0:2] != name.split(".")[0:2]}
        foundation = {t for t in outside if room(t) == ""}
        assert outside == foundation, f"{name}/__init__.py imports other rooms: {sorted(outside - foundation)}"
        counts[name] = len({t for t in graph[name] if t.startswith(name + ".")})
    importing = {n: c for n, c in counts.items() if c}
    assert set(importing) <= {"mammo_lib.preprocess", "mammo_lib.synth", "mammo_lib.data.adapters"}, importing


def test_the_top_level_is_a_handful_of_foundation_modules() -> None:
    top = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top
    rooms = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    assert rooms == sorted(r for layer_rooms in LAYERS for r in layer_rooms if r), rooms


def test_the_public_api_is_lazy_and_complete() -> None:
    import mammo_lib

    for name in mammo_lib.__all__:
        assert getattr(mammo_lib, name) is not None
    code = ("import sys, mammo_lib; mammo_lib.delong_test; "
            "print(sorted(m for m in ('torch', 'pydicom', 'papermill', 'timm', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    assert out.stdout.strip() == "[]"


def test_readme_layout_names_every_room_module_and_notebook() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    layout = readme[readme.index("## Layout"):]
    layout = layout[: layout.index("```", layout.index("```") + 3)]
    for path in sorted(PACKAGE.iterdir()):
        if (path / "__init__.py").is_file():
            assert re.search(rf"^\s*{path.name}/", layout, re.M), f"README layout lacks the room {path.name}/"
            for module in sorted(path.glob("*.py")):
                if module.stem != "__init__":
                    assert re.search(rf"\b{module.stem}\b", layout), f"README layout lacks {path.name}/{module.name}"
        elif path.suffix == ".py" and path.stem not in ("__init__", "__main__"):
            assert re.search(rf"\b{path.stem}\.py\b", layout), f"README layout lacks {path.name}"
    for notebook in sorted((REPO_ROOT / "notebooks").glob("*.ipynb")):
        assert notebook.stem in layout, f"README layout lacks notebooks/{notebook.name}"


def test_no_module_is_over_the_size_limit_without_a_reason() -> None:
    sizes = {_module_name(p): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    large = {m: n for m, n in sizes.items() if n > MAX_LINES and m not in LARGER_BY_DESIGN}
    assert not large, f"modules over {MAX_LINES} lines: {large}"


def test_import_mammo_lib_and_the_cli_stay_free_of_heavy_libraries() -> None:
    code = ("import sys, mammo_lib, mammo_lib.cli, mammo_lib.training.loop, mammo_lib.models.registry, mammo_lib.models.weights; "
            "print(sorted(m for m in ('torch', 'pandas', 'pydicom', 'papermill', 'timm', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    assert out.stdout.strip() == "[]"


def test_mammo_preprocess_starts_without_pandas_or_torch() -> None:
    """``mammo preprocess FILE`` needs numpy, scipy and pydicom only (as before the package split)."""
    code = ("import sys, mammo_lib.preprocess.cache, mammo_lib.data.dicomio; "
            "print(sorted(m for m in ('torch', 'pandas', 'papermill', 'timm', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    assert out.stdout.strip() == "[]"
