"""Insignia «Abrir en Colab»: cada laboratorio (fuente y copia del alumno) y cada lección lleva
exactamente una, bajo el título, construida desde la dirección del repositorio de pyproject.toml."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from tools import colab_badges

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = colab_badges.notebooks(REPO)


def _rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def test_labs_and_lectures_are_all_covered():
    folders = {_rel(p).split("/")[0] for p in NOTEBOOKS}
    assert folders == {"source", "release", "notebooks"}
    assert len([p for p in NOTEBOOKS if _rel(p).startswith("release/")]) == len(list(REPO.glob("source/*/*.ipynb")))
    assert len([p for p in NOTEBOOKS if _rel(p).startswith("notebooks/")]) == len(list(REPO.glob("notebooks/*.ipynb")))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_rel)
def test_exactly_the_right_badge(path):
    cells = nbformat.read(path, as_version=4).cells
    found = [m.group(0).strip() for cell in cells for m in colab_badges.BADGE_LINE.finditer(cell.source)]
    expected = colab_badges.badge(path)
    assert found == [expected], f"{_rel(path)}: insignias {found}, se esperaba {expected}"
    # Ninguna otra mención suelta de Colab (la insignia nombra su imagen y su enlace).
    assert sum(c.source.count("colab.research.google.com") for c in cells) == 2
    # Bajo el título y abriendo el cuaderno que le toca, que existe en el repositorio.
    title = cells[0].source.splitlines()
    assert title[0].startswith("# ") and title[2] == expected, f"{_rel(path)}: la insignia no está bajo el título"
    target = colab_badges.target_path(path)
    assert (REPO / target).is_file()
    assert target == (_rel(path).replace("source/", "release/", 1))
    url = colab_badges.repository_url()
    owner_repo = url.removeprefix("https://github.com/").rstrip("/").removesuffix(".git")
    assert expected.endswith(f"(https://colab.research.google.com/github/{owner_repo}/blob/main/{target})")


def test_the_link_follows_the_configured_repository(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[project.urls]\nRepository = "https://github.com/otra/cosa.git"\n')
    nb = tmp_path / "release" / "01_tensores" / "01_tensores.ipynb"
    assert colab_badges.badge(nb, tmp_path) == (
        "[![Abrir en Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        "(https://colab.research.google.com/github/otra/cosa/blob/main/release/01_tensores/01_tensores.ipynb)"
    )
    assert colab_badges.target_path(tmp_path / "source" / "02_modulos" / "02_modulos.ipynb", tmp_path) == (
        "release/02_modulos/02_modulos.ipynb"
    )
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[project.urls]\nRepository = "https://gitlab.com/otra/cosa"\n')
    with pytest.raises(ValueError, match="no es de GitHub"):
        colab_badges.badge(nb, tmp_path)


def test_write_badges_fixes_a_wrong_or_missing_badge_and_is_idempotent(tmp_path):
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    shutil.copytree(REPO / "notebooks", tmp_path / "notebooks")
    shutil.copytree(REPO / "source" / "07_tensorboard", tmp_path / "source" / "07_tensorboard")
    assert colab_badges.write_badges(tmp_path) == []
    lecture = tmp_path / "notebooks" / "00_introduccion.ipynb"
    lab = tmp_path / "source" / "07_tensorboard" / "07_tensorboard.ipynb"
    nb = nbformat.read(lecture, as_version=4)
    nb.cells[0].source = nb.cells[0].source.replace("/blob/main/notebooks/", "/blob/main/otra/")
    nbformat.write(nb, lecture)
    nb = nbformat.read(lab, as_version=4)
    nb.cells[0].source = colab_badges.BADGE_LINE.sub("", nb.cells[0].source)
    nbformat.write(nb, lab)
    assert set(colab_badges.write_badges(tmp_path)) == {lab, lecture}
    for path in (lecture, lab):
        assert nbformat.read(path, as_version=4).cells[0].source == nbformat.read(
            REPO / path.relative_to(tmp_path), as_version=4
        ).cells[0].source
    assert colab_badges.write_badges(tmp_path) == []
