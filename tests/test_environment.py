"""pyproject.toml and environment.yml must install exactly the same pinned packages."""
from __future__ import annotations

import tomllib

import yaml

from mammo_lib.paths import REPO_ROOT


def _pyproject_pins() -> set[str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    pins = set(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        pins.update(extra)
    return {p.replace(" ", "").lower() for p in pins}


def _environment_pins() -> set[str]:
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_sections) == 1, "environment.yml needs exactly one pip section"
    return {p.replace(" ", "").lower() for p in pip_sections[0] if not p.startswith("-e")}


def test_environment_yml_pins_equal_pyproject_pins() -> None:
    pyproject, environment = _pyproject_pins(), _environment_pins()
    assert pyproject == environment, (
        f"only in pyproject.toml: {sorted(pyproject - environment)}; "
        f"only in environment.yml: {sorted(environment - pyproject)}"
    )


def test_every_dependency_is_pinned_exactly() -> None:
    loose = sorted(p for p in _pyproject_pins() if "==" not in p)
    assert not loose, f"unpinned dependencies: {loose}"


def test_torch_pins_are_the_locally_served_releases() -> None:
    pins = _pyproject_pins()
    assert "torch==2.14.1" in pins and "torchvision==0.29.1" in pins


def test_environment_yml_installs_the_project_itself_and_python_311() -> None:
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip
