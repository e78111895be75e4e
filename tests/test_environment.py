"""environment.yml (conda), requirements.txt (pip) y pyproject.toml nombran los mismos paquetes."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
REQUIRED = {
    "torch", "torchvision", "torchmetrics", "jupyterlab", "nbgrader", "matplotlib",
    "scikit-learn", "tensorboard", "tqdm", "torchinfo", "pytest", "pytest-xdist",
    "dask", "psycopg", "playwright",
}


def _name(spec: str) -> str:
    return re.split(r"[<>=!~ \[;]", spec.strip(), maxsplit=1)[0].lower()


def _requirements() -> dict[str, str]:
    lines = (REPO / "requirements.txt").read_text().splitlines()
    specs = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
    return {_name(s): s.replace(" ", "") for s in specs}


def _conda_pip() -> dict[str, str]:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_lists = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    specs = [s for s in pip_lists[0] if not s.startswith("-e")]
    return {_name(s): s.replace(" ", "") for s in specs}


def test_pip_and_conda_name_the_same_packages_and_versions():
    assert _requirements() == _conda_pip()


def test_the_course_packages_are_all_there():
    assert set(_requirements()) == REQUIRED
    pins = _requirements()
    assert pins["jupyterlab"] == "jupyterlab>=4,<5"
    assert pins["nbgrader"] == "nbgrader>=0.9,<0.10"


def test_package_metadata_agrees():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    runtime = {_name(s) for s in project["dependencies"]}
    teacher = {_name(s) for s in project["optional-dependencies"]["profesor"]}
    assert runtime | teacher == REQUIRED
