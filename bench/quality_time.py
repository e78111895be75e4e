"""Tiempo de los controles de calidad de tests/quality.py sobre el curso entero.

Uso: python bench/quality_time.py [--repeticiones N]

Mide por separado la extracción de la prosa (cuadernos, README y mensajes del paquete), la
ortografía con hunspell, el glosario y la higiene de los cuadernos; imprime la mediana de N
repeticiones y cuántos cuadernos, fragmentos y palabras distintas se revisan.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests import quality  # noqa: E402


def timed(function, repetitions: int):
    times, result = [], None
    for _ in range(repetitions):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeticiones", type=int, default=3)
    args = parser.parse_args()
    import nbformat  # noqa: F401 (que su importación no cuente en la higiene)

    print(f"{platform.node()} · {platform.processor() or platform.machine()} · repeticiones: {args.repeticiones}")
    notebooks = quality.course_notebooks()
    t_extract, fragments = timed(quality.course_fragments, args.repeticiones)
    t_names, names = timed(quality.course_code_names, args.repeticiones)
    t_spell, unknown = timed(lambda: quality.misspellings(fragments, names), args.repeticiones)
    t_glossary, problems = timed(lambda: quality.glossary_problems(fragments, names), args.repeticiones)
    t_hygiene, dirty = timed(lambda: [p for n in notebooks for p in quality.hygiene_problems(n)], args.repeticiones)
    distinct = {w for f in fragments for w in quality.words(f.text)}
    print(f"{len(notebooks)} cuadernos · {len(fragments)} fragmentos · {len(distinct)} palabras distintas")
    print(f"{'control':<28} {'mediana (s)':>12} {'hallazgos':>10}")
    for name, seconds, found in (
        ("extraer la prosa", t_extract, ""),
        ("nombres de código", t_names, ""),
        ("ortografía (hunspell)", t_spell, len(unknown)),
        ("glosario", t_glossary, len(problems)),
        ("higiene de los cuadernos", t_hygiene, len(dirty)),
    ):
        print(f"{name:<28} {seconds:>12.2f} {found!s:>10}")
    print(f"{'total':<28} {t_extract + t_names + t_spell + t_glossary + t_hygiene:>12.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
