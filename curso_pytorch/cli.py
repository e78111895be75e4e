"""Línea de órdenes del curso: ``curso <orden>`` o ``python -m curso_pytorch <orden>``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import course, data, feedback, gradebook, grading, publish, submissions, workers
from .quick_exit import exit_now

# argparse escribe sus rótulos en inglés con gettext; los traducimos aquí.
_SPANISH = {
    "usage: ": "uso: ",
    "positional arguments": "argumentos",
    "options": "opciones",
    "show this help message and exit": "muestra esta ayuda y termina",
    "the following arguments are required: %s": "faltan estos argumentos: %s",
    "unrecognized arguments: %s": "argumentos no reconocidos: %s",
    "invalid choice: %(value)r (choose from %(choices)s)": "orden no válida: %(value)r (elige entre %(choices)s)",
    "argument %(argument_name)s: %(message)s": "argumento %(argument_name)s: %(message)s",
}
argparse._ = lambda text: _SPANISH.get(text, text)


def _course_dir(value: str | None) -> Path:
    if value:
        folder = Path(value).resolve()
        if not data.is_course(folder):
            raise course.CourseError(
                f"«{folder}» no es una carpeta del curso: le falta nbgrader_config.py o source/. "
                "Indica con --curso la carpeta que los contiene."
            )
        return folder
    found = data.course_root()
    if found is None:
        raise course.CourseError(
            "No encuentro la carpeta del curso (la que contiene nbgrader_config.py y source/). "
            "Ejecuta la orden dentro de ella o indícala con --curso."
        )
    return found


def _choices(names: list[str], limit: int = 20) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" (y {len(names) - limit} más)" if len(names) > limit else "") if names else "ninguno"


def _check_lab(args) -> None:
    """Un laboratorio que no existe es un error, no «no hay entregas»."""
    known = course.labs(args.curso)
    if args.lab and args.lab not in known:
        close = course.closest_lab(args.curso, args.lab)
        hint = f" ¿Quería decir «{close}»?" if close else ""
        raise course.CourseError(f"No existe el laboratorio «{args.lab}» en source/.{hint} Laboratorios: {_choices(known)}.")


def _check_student(args) -> None:
    if args.alumno and not (args.curso / "submitted" / args.alumno).is_dir():
        students = sorted({who for who, _ in submissions.submissions(args.curso)})
        raise course.CourseError(
            f"No hay entregas del alumno «{args.alumno}» en submitted/. Alumnos con entregas: {_choices(students)}."
        )


def cmd_datos(args) -> int:
    status = data.provision(root=data.data_root(course=args.curso))
    for name, state in status.items():
        print(f"{name}: {state}")
    return 0 if all(v == "listo" for v in status.values()) else 1


def cmd_publicar(args) -> int:
    _check_lab(args)
    done = publish.publish(args.curso, args.lab, due=args.fecha_limite)
    print("Publicado en release/: " + ", ".join(done))
    if args.fecha_limite:
        print(f"Fecha límite de {args.lab}: {publish.parse_due_date(args.fecha_limite):%Y-%m-%d %H:%M} UTC.")
    return 0


def cmd_soluciones(args) -> int:
    _check_lab(args)
    target, due = publish.publish_solutions(args.curso, args.lab, force=args.forzar)
    print(f"Soluciones comentadas de {args.lab} publicadas en {target.relative_to(args.curso)}.")
    if due is None:
        print(f"{args.lab} no tiene fecha límite en el libro de calificaciones "
              "(se fija con «curso publicar LAB --fecha-limite FECHA»).")
    elif args.forzar and due > publish.utc_now():
        print(f"Atención: publicadas antes de la fecha límite ({due:%Y-%m-%d %H:%M} UTC).")
    return 0


def cmd_comprobar(args) -> int:
    problems = publish.stale_release(args.curso)
    if problems:
        print("release/ no coincide con source/:\n  " + "\n  ".join(problems))
        print("Regenera con: curso publicar")
        return 1
    print("release/ está al día con source/.")
    return 0


def cmd_calificar(args) -> int:
    _check_lab(args)
    _check_student(args)
    outcomes = grading.grade(args.curso, args.lab, args.alumno, workers=args.procesos, scheduler=args.planificador)
    if not outcomes:
        print("No hay entregas en submitted/.")
        return 0
    for outcome in outcomes:
        if outcome.message:
            print(f"  {outcome.lab} · {outcome.student}: {course.printable(outcome.message)}")
        lost = [c for c in outcome.result.cells if c.score < c.max_score] if outcome.result else []
        for cell in lost:
            if cell.reason != outcome.message:
                print(f"  {outcome.lab} · {outcome.student} · {cell.grade_id}: "
                      f"{cell.score:g}/{cell.max_score:g} — {course.printable(cell.reason)}")
    failed = [o for o in outcomes if not o.ok]
    print(f"Calificadas {len(outcomes) - len(failed)} de {len(outcomes)} entregas.")
    refreshed = feedback.refresh_stale(args.curso)
    if refreshed:
        print(f"Retroalimentación regenerada en feedback/ para {refreshed} entrega(s) recalificada(s).")
    return 1 if failed else 0


def cmd_retroalimentacion(args) -> int:
    _check_lab(args)
    _check_student(args)
    count = feedback.feedback(args.curso, args.lab, args.alumno)
    print(f"Retroalimentación generada en feedback/ para {count} entregas.")
    return 0


def cmd_notas(args) -> int:
    default = "notas.csv" if args.formato == "largo" else f"notas_{args.formato}.csv"
    csv_path = Path(args.csv or args.curso / default)
    rows = gradebook.export_grades(args.curso, csv_path, args.formato)
    print(gradebook.grade_table(rows) if rows else "Aún no hay notas en el libro de calificaciones.")
    print(f"\nNotas guardadas en {csv_path} (formato {args.formato})")
    return 0


def cmd_demo(args) -> int:
    print("== 1/5 Datos ==")
    cmd_datos(args)
    print("== 2/5 Publicar los laboratorios ==")
    cmd_publicar(args)
    print("== 3/5 Entregas de ejemplo ==")
    for student, lab in submissions.make_demo_submissions(args.curso):
        print(f"  submitted/{student}/{lab}")
    print("== 4/5 Calificación automática ==")
    grading.grade(args.curso, workers=args.procesos)
    print("== 5/5 Retroalimentación y notas ==")
    cmd_retroalimentacion(args)
    cmd_notas(args)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="curso",
        description="Herramientas del curso de PyTorch: publicar, calificar y exportar notas con nbgrader.",
    )
    course_help = "carpeta del curso (por defecto, la que contiene nbgrader_config.py)"
    parser.add_argument("--curso", help=course_help)
    sub = parser.add_subparsers(dest="orden", required=True, metavar="ORDEN")

    def add(name, func, help_text, lab=False, alumno=False, csv=False, parallel=False):
        p = sub.add_parser(name, help=help_text, description=help_text)
        # También después de la orden («curso calificar --curso X»); SUPPRESS no pisa el de antes.
        p.add_argument("--curso", default=argparse.SUPPRESS, help=course_help)
        # Los valores por defecto van antes que las opciones: add_argument los toma de aquí.
        procesos = workers.default_workers() if parallel else 1
        p.set_defaults(func=func, lab=None, alumno=None, csv=None, procesos=procesos, planificador=None,
                       fecha_limite=None, formato="largo")
        if lab:
            p.add_argument("lab", nargs="?", help="un laboratorio concreto (por defecto, todos)")
        if alumno:
            p.add_argument("--alumno", help="solo las entregas de este alumno")
        if csv:
            p.add_argument("--csv", help="ruta del CSV de notas (por defecto, notas.csv o notas_FORMATO.csv en el curso)")
            p.add_argument("--formato", choices=sorted(gradebook.EXPORTS),
                           help="largo: alumno, laboratorio, puntos; ancho: una columna por celda de pruebas; "
                                "moodle y canvas: para importar en esos libros de calificaciones")
        if parallel:
            p.add_argument("--procesos", type=int,
                           help="entregas calificadas a la vez en esta máquina (por defecto, una por núcleo)")
        if parallel == "cluster":
            p.add_argument("--planificador", metavar="DIRECCIÓN",
                           help="califica en un clúster Dask ya en marcha (p. ej. tcp://10.0.0.5:8786)")
        return p

    add("datos", cmd_datos, "descarga o copia MNIST y CIFAR-10 a la caché y los verifica")
    publicar = add("publicar", cmd_publicar, "genera la versión del alumno de source/ en release/", lab=True)
    publicar.add_argument("--fecha-limite", dest="fecha_limite", metavar="FECHA",
                          help="fecha límite del laboratorio: «AAAA-MM-DD HH:MM [zona]» (sin zona, UTC)")
    soluciones = add("soluciones", cmd_soluciones,
                     "publica en publicado/soluciones/ las soluciones comentadas de un laboratorio "
                     "(después de su fecha límite)")
    soluciones.add_argument("lab", help="el laboratorio cuyas soluciones se publican")
    soluciones.add_argument("--forzar", action="store_true",
                            help="publica aunque no haya pasado la fecha límite del laboratorio")
    add("comprobar", cmd_comprobar, "comprueba que release/ coincide con lo que genera source/")
    add("calificar", cmd_calificar, "califica automáticamente las entregas de submitted/", lab=True, alumno=True,
        parallel="cluster")
    add("retroalimentacion", cmd_retroalimentacion, "genera la retroalimentación HTML en feedback/", lab=True, alumno=True)
    add("notas", cmd_notas, "muestra la tabla de notas y la exporta a CSV", csv=True)
    add("demo", cmd_demo, "todo el ciclo: datos, publicar, entregas de ejemplo, calificar, retroalimentación y notas",
        csv=True, parallel=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.curso = _course_dir(args.curso)
        return args.func(args)
    except (course.CourseError, data.DatasetUnavailableError) as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Interrumpido.", file=sys.stderr)
        return 130


def run() -> None:
    """La orden ``curso``: ``main`` y la salida sin desmontar el intérprete (``quick_exit``)."""
    exit_now(main())


if __name__ == "__main__":
    run()
