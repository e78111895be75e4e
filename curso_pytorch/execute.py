"""Ejecución de un cuaderno entregado durante la calificación (sustituye al ``Execute`` de nbgrader).

Sobre el ``Execute`` de nbgrader añade:

- el núcleo corre en la caja de ``curso_pytorch.sandbox`` (sin red, solo su carpeta, con límites);
- si el núcleo muere (memoria, ``os._exit``, fallo de segmentación, tiempo de CPU), la entrega
  no se pierde: las celdas que quedan reciben un error con el motivo en español y puntúan 0;
- un tiempo total por cuaderno, además del tiempo por celda;
- la salida de cada celda se recorta (quien imprime megabytes no agota la memoria del corrector);
- el núcleo trabaja en una carpeta temporal con solo lo que el laboratorio da al alumno (ni el
  cuaderno con las pruebas ocultas ni lo que se entregó junto a él), fuera de ``sys.path``;
- en las celdas con juez (``curso_pytorch.judge``), al núcleo solo llegan las pruebas visibles y la
  sonda; los puntos los decide el juez aquí fuera, con los datos de la sonda y el código entregado
  (``curso_pytorch.student_code``): código que se genera u oculta deja sin puntos las pruebas que
  vienen detrás, con un motivo que pide revisarlo a mano;
- las celdas de la lección que el alumno no cambió y que nada de lo que viene detrás necesita no
  se ejecutan (``curso_pytorch.lesson_cells``): la calificación no paga las demostraciones;
- una celda de pruebas no puede fijar su nota con un resultado («nota parcial» de nbgrader): sus
  resultados se muestran, pero no puntúan;
- las celdas de pruebas sin juez se ejecutan con el entorno restaurado (``curso_pytorch.integrity``)
  y un cuaderno que intenta desactivar esas defensas no puntúa en ninguna de ellas.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_sync
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Bool, Float, Integer, Unicode

from . import lesson_cells, student_code
from .course import REFERENCES, GradingSetupError, grade_id, is_test_cell, split_judge
from .data import cache_in, course_root, data_root, missing
from .sandbox import Limits, SandboxKernelManager, oom_killed

GUARD = "__curso_integridad__"
KERNEL_SETUP = f"import curso_pytorch.integrity as {GUARD}; {GUARD}.snapshot()"
BEFORE = f"{GUARD}.before_tests(globals())\n"
AFTER = f"\n{GUARD}.after_tests()"

# Código del alumno que intenta llegar a las defensas o al intérprete por debajo de Python.
TAMPERING = [
    (re.compile(r"__curso_integridad__|curso_pytorch\s*\.\s*integrity|curso_pytorch\.execute"), "las defensas de la calificación"),
    (re.compile(r"\bctypes\b|\bcffi\b"), "memoria del intérprete (ctypes)"),
    (re.compile(r"\bgc\s*\.\s*get_referr?e(rs|nts)\b"), "objetos internos (gc)"),
    (re.compile(r"\bsys\s*\.\s*(modules|settrace|setprofile|_getframe)\b|\bsys\.meta_path\b"), "el intérprete (sys)"),
]

TIMEOUT_MESSAGE = "la celda superó el tiempo máximo y se interrumpió (¿un bucle infinito?)."
TIMEOUT_ERROR = {
    "ename": "TiempoAgotado",
    "evalue": TIMEOUT_MESSAGE,
    "traceback": [f"\x1b[31mTiempoAgotado\x1b[0m: {TIMEOUT_MESSAGE}"],
}


def error_output(name: str, message: str):
    return new_output("error", ename=name, evalue=message, traceback=[f"\x1b[31m{name}\x1b[0m: {message}"])


def tampering_in(source: str) -> str | None:
    for pattern, what in TAMPERING:
        if pattern.search(source):
            return what
    return None


def remove_links(folder: Path) -> list[Path]:
    """Quita los enlaces simbólicos de ``folder`` (sin seguirlos) y devuelve cuáles quitó."""
    removed = []
    for base, dirs, files in os.walk(folder, followlinks=False):
        for name in [*dirs, *files]:
            path = Path(base) / name
            if path.is_symlink():
                path.unlink()
                removed.append(path)
    return removed


def _forget_fresh_submission(resources) -> None:
    """Quita del libro la entrega que nbgrader acaba de crear, si aún no tiene ninguna nota (una
    entrega ya calificada conserva las suyas)."""
    info = resources.get("nbgrader") or {}
    if not {"db_url", "assignment", "student"} <= set(info):
        return
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(info["db_url"]) as gb:
        try:
            submission = gb.find_submission(info["assignment"], info["student"])
        except MissingEntry:
            return
        grades = [g for notebook in submission.notebooks for g in notebook.grades]
        if all(g.auto_score is None and g.manual_score is None for g in grades):
            gb.remove_submission(info["assignment"], info["student"])


# El núcleo arrancado de antemano para la entrega siguiente de este proceso (uno como mucho): ya
# en su caja, con torch importado y sin haber ejecutado nada de ningún alumno.
_SPARE: dict = {}


def discard_spare() -> None:
    """Cierra el núcleo de reserva que quede (al terminar un lote o el proceso)."""
    spare = _SPARE.pop("núcleo", None)
    if spare is None:
        return
    _key, km, workdir = spare
    process = getattr(km.provisioner, "process", None) if km.provisioner else None
    if process is not None and process.poll() is None:
        process.kill()
        process.wait()
    km.release_sandbox()
    shutil.rmtree(workdir, ignore_errors=True)


def _take_spare(key):
    """El núcleo de reserva si se arrancó para lo mismo (laboratorio, límites, datos...) y sigue
    vivo; si no, se tira."""
    spare = _SPARE.get("núcleo")
    if spare is None:
        return None
    process = getattr(spare[1].provisioner, "process", None) if spare[1].provisioner else None
    if spare[0] != key or process is None or process.poll() is not None:
        discard_spare()
        return None
    del _SPARE["núcleo"]
    spare[1].to_foreground()
    return spare[1], spare[2]


atexit.register(discard_spare)


def import_judge_in_background() -> None:
    """Empieza a importar el juez (y con él torch, unos segundos) en un hilo, si aún no se hizo en
    este proceso: la primera entrega no lo espera antes de arrancar su núcleo, que arranca en otro
    proceso mientras tanto. Quien lo usa lo importa como siempre (espera a que acabe, o repite la
    importación y su error si falló)."""
    if "curso_pytorch.judge" in sys.modules or _JUDGE_IMPORT:
        return

    def load():
        try:
            importlib.import_module("curso_pytorch.judge")
        except Exception:  # noqa: BLE001 (el error lo dará la importación de quien lo use)
            pass

    _JUDGE_IMPORT.append(threading.Thread(target=load, name="importa-juez", daemon=True))
    _JUDGE_IMPORT[0].start()


_JUDGE_IMPORT: list = []  # el hilo que importa el juez, una vez por proceso


class SafeExecute(Execute):
    memory_mb = Integer(Limits.memory_mb, help="Memoria del núcleo (MB).").tag(config=True)
    cpu_seconds = Integer(Limits.cpu_seconds, help="Tiempo de CPU del núcleo (s).").tag(config=True)
    processes = Integer(Limits.processes, help="Procesos e hilos en la caja.").tag(config=True)
    file_mb = Integer(Limits.file_mb, help="Tamaño máximo de un archivo (MB).").tag(config=True)
    cpus = Float(Limits.cpus, help="Cuota de CPU en núcleos (0: sin cuota).").tag(config=True)
    notebook_seconds = Integer(1800, help="Tiempo total de un cuaderno (s).").tag(config=True)
    output_chars = Integer(100_000, help="Caracteres de salida guardados por celda.").tag(config=True)
    error_chars = Integer(2_000, help="Caracteres del mensaje de un error (y de cada línea de su pila).").tag(config=True)
    data_dir = Unicode("", help="Caché de datos (solo lectura dentro de la caja).").tag(config=True)
    prestart_next = Bool(False, help="Arrancar, en cuanto esté listo el núcleo de esta entrega, el de la "
                                     "siguiente (en su caja, con torch importado); cada núcleo sirve a una "
                                     "sola entrega.").tag(config=True)
    skip_lesson_cells = Bool(True, help="No ejecutar las celdas de la lección que nada de lo que viene detrás "
                                        "necesita (curso_pytorch.lesson_cells).").tag(config=True)
    fork_kernels = Bool(True, help="Que cada núcleo nazca, ya en su caja, de un proceso con torch e ipykernel "
                                   "importados (curso_pytorch.forked_kernels) en vez de importarlos él; solo con "
                                   "bubblewrap, y si falla se arranca el de siempre.").tag(config=True)
    references_dir = Unicode("", help="Caché de referencias del juez (por defecto, .referencias/ del curso; "
                                      "nunca dentro de la caja).").tag(config=True)

    _adopted = None  # el núcleo de reserva que sirve a esta entrega, si lo había
    _modules: list = []  # los módulos que importa el laboratorio (``_preload_lab_modules``)

    def __init__(self, *args, **kwargs):
        kwargs["kernel_manager_class"] = SandboxKernelManager
        super().__init__(*args, **kwargs)
        self.error_on_timeout = TIMEOUT_ERROR
        # El núcleo sirve a una sola entrega y después se tira (y su caja con él): sin esperar a que
        # se despida, que solo cuesta tiempo.
        self.shutdown_kernel = "immediate"
        # La carpeta de trabajo no entra en sys.path: un módulo que dejara allí el alumno no
        # sustituye a ninguno de verdad (también PYTHONSAFEPATH en la caja, sandbox.py).
        self.extra_arguments = [*self.extra_arguments, f"--IPKernelApp.exec_lines={KERNEL_SETUP}",
                                "--IPKernelApp.ignore_cwd=True"]

    # ------------------------------------------------------------------ núcleo

    def create_kernel_manager(self):
        if self._adopted is not None:  # el núcleo de reserva, arrancado para esta entrega
            self.km = self._sandbox_km = self._adopted
            return self.km
        km = self._configured(super().create_kernel_manager())
        self._sandbox_km = km
        return km

    def _configured(self, km):
        """El gestor de núcleo con lo de esta entrega: límites, datos y cómo nace el núcleo."""
        km.limits = self._limits()
        km.course_data_dir = self._data_dir
        km.fork_kernels = self.fork_kernels
        km.preload_modules = self._modules
        return km

    def _limits(self) -> Limits:
        return Limits(self.memory_mb, self.cpu_seconds, self.processes, self.file_mb, self.cpus)

    def _kernel_arguments(self) -> list[str]:
        """Los argumentos del núcleo, como los completa nbclient al arrancarlo."""
        arguments = list(self.extra_arguments)
        if self.ipython_hist_file and not any(a.startswith("--HistoryManager.hist_file") for a in arguments):
            arguments.append(f"--HistoryManager.hist_file={self.ipython_hist_file}")
        return arguments

    def _kernel_key(self, nb, lab: str) -> tuple:
        """Lo que debe coincidir para que el núcleo de reserva sirva a esta entrega."""
        release = hashlib.sha256()
        for path in self._release_items(lab):
            for file in sorted([path] if path.is_file() else path.rglob("*")):
                if file.is_file() and not file.is_symlink():
                    release.update(str(file.relative_to(path.parent)).encode() + b"\0" + file.read_bytes())
        kernel = self.kernel_name or nb.metadata.get("kernelspec", {}).get("name") or ""
        return (lab, kernel, tuple(self._kernel_arguments()), self._limits(), str(self._data_dir),
                release.hexdigest(), self.startup_timeout)

    async def _prestart_next(self) -> None:
        """Arranca el núcleo de la entrega siguiente (mientras esta se ejecuta)."""
        discard_spare()
        km = self._configured(self.kernel_manager_class(kernel_name=self._kernel_key_now[1], config=self.config))
        km.background = True  # no quita CPU al núcleo de esta entrega
        workdir = self._workdir_for(self._kernel_key_now[0])
        try:
            await km.start_kernel(extra_arguments=self._kernel_arguments(), cwd=str(workdir))
        except Exception as error:  # noqa: BLE001 (la siguiente arrancará el suyo, como siempre)
            self.log.warning("no se pudo arrancar de antemano el núcleo siguiente: %s", error)
            km.release_sandbox()
            shutil.rmtree(workdir, ignore_errors=True)
            return
        _SPARE["núcleo"] = (self._kernel_key_now, km, workdir)

    def _ready_data(self, resources) -> Path:
        """La caché de datos, llena antes de que arranque el núcleo (aquí fuera, con la red o el
        espejo de quien califica; dentro de la caja solo se lee). Si no se puede llenar, no se
        califica: ``GradingSetupError``, y la entrega no queda en el libro de calificaciones."""
        # La caché: la que indique quien califica, $CURSO_DATA_DIR o data/ del curso del cuaderno.
        root = data_root(self.data_dir or None, course=course_root(self._notebook_dir)).resolve()
        absent = missing(root=root)
        if absent:
            _forget_fresh_submission(resources)
            detail = "; ".join(f"{name}: {why.splitlines()[0]}" for name, why in absent.items())
            raise GradingSetupError(
                f"No se califica: faltan en la caché {root} los datos que usan las pruebas ({detail}). "
                "Ejecute «curso datos» (con conexión o con CURSO_DATA_MIRROR) y vuelva a calificar; "
                "no se ha escrito ninguna nota."
            )
        return root

    def _lab_copy(self, resources):
        """(laboratorio, la copia del alumno de este cuaderno): lo que no escribió el alumno."""
        info = resources.get("nbgrader") or {}
        lab, name = info.get("assignment"), info.get("notebook")
        root = course_root(self._notebook_dir)
        for folder in ("release", "source"):  # fuera de respuestas y pruebas, las dos son iguales
            path = (root or Path(".")) / folder / str(lab) / f"{name}.ipynb"
            if lab and name and path.is_file():
                return lab, nbformat.read(path, as_version=4)
        raise GradingSetupError(
            f"No se califica: el cuaderno «{name}» no está ni en release/{lab}/ ni en source/{lab}/ del curso; "
            "sin la copia del alumno no se puede saber qué escribió el alumno. Publique el laboratorio "
            "(«curso publicar») y vuelva a calificar; no se ha escrito ninguna nota."
        )

    def _release_items(self, lab: str) -> list[Path]:
        """Lo que el laboratorio da al alumno además de los cuadernos (archivos de release/)."""
        release = (course_root(self._notebook_dir) or Path(".")) / "release" / lab
        return [item for item in (sorted(release.iterdir()) if release.is_dir() else [])
                if item.suffix != ".ipynb" and not item.name.startswith(".") and not item.is_symlink()]

    def _workdir_for(self, lab: str) -> Path:
        """Carpeta de trabajo del núcleo: temporal, con solo lo que el laboratorio da al alumno
        (los archivos de release/, sin cuadernos), nunca la carpeta de la entrega."""
        workdir = Path(tempfile.mkdtemp(prefix="curso-trabajo-"))
        for item in self._release_items(lab):
            (shutil.copytree if item.is_dir() else shutil.copy2)(item, workdir / item.name)
        return workdir

    def _judge_setup(self, nb, resources) -> None:
        """Lo que se decide sobre el código entregado y con qué se construirá el juez del cuaderno
        (en su primer veredicto: con torch, que mientras tanto se importa en segundo plano)."""
        self._judge = self._judge_args = None
        self._hidden_from = None
        if not any(is_test_cell(c) and split_judge(c.source)[1].strip() for c in nb.cells):
            return
        lab, release = self._lab_copy(resources)
        statements = student_code.student_statements(nb, release)
        root = course_root(self._notebook_dir)
        folder = Path(self.references_dir) if self.references_dir else root / REFERENCES if root else None
        self._judge_args = (lab, statements, folder)
        found = student_code.obfuscation(statements)
        if found is not None:
            cell, what = found
            self._hidden_from = (cell, f"la celda {cell + 1} usa {what}, que genera u oculta código: el corrector no "
                                       "puede saber qué se ejecutó y las pruebas que vienen detrás no puntúan. Si es "
                                       "un error, pide que se revise la entrega a mano")

    def _preload_lab_modules(self, resources) -> None:
        """Que el núcleo importe al arrancar lo que importa el laboratorio (torchmetrics, matplotlib...):
        con el núcleo arrancado de antemano, esas importaciones no las paga la entrega."""
        try:
            modules = lesson_cells.course_imports(self._lab_copy(resources)[1])
        except GradingSetupError:
            modules = []
        self._modules = modules
        setup = f"{KERNEL_SETUP}; {GUARD}.preload({modules!r})" if modules else KERNEL_SETUP
        self.extra_arguments = [a for a in self.extra_arguments if not a.startswith("--IPKernelApp.exec_lines=")]
        self.extra_arguments.append(f"--IPKernelApp.exec_lines={setup}")

    def _lesson_cells_to_skip(self, nb, resources) -> set[int]:
        """Las celdas de la lección que no hace falta ejecutar (``curso_pytorch.lesson_cells``)."""
        if not self.skip_lesson_cells:
            return set()
        try:
            return lesson_cells.skippable(nb, self._lab_copy(resources)[1])
        except GradingSetupError:  # sin la copia del alumno no se sabe qué es de la lección
            return set()

    def preprocess(self, nb, resources=None, km=None):
        import_judge_in_background()
        self._stopped = None
        self._deadline = time.monotonic() + self.notebook_seconds
        self._sandbox_km = None
        self._notebook_dir = Path((resources or {}).get("metadata", {}).get("path") or ".")
        self._tampering = None
        self._output_left = self.output_chars
        self._timed_out = False
        self._data_dir = self._ready_data(resources or {})
        try:
            self._judge_setup(nb, resources or {})
        except GradingSetupError:
            _forget_fresh_submission(resources or {})
            raise
        self._skipped = self._lesson_cells_to_skip(nb, resources or {})
        self._preload_lab_modules(resources or {})
        lab = (resources or {}).get("nbgrader", {}).get("assignment") or ""
        self._kernel_key_now = self._kernel_key(nb, lab)
        self._adopted, self._workdir = _take_spare(self._kernel_key_now) or (None, self._workdir_for(lab))
        for cell in nb.cells:
            if cell.cell_type == "code" and not cell.metadata.get("nbgrader", {}).get("grade"):
                found = tampering_in(cell.source)
                if found:
                    self._tampering = f"el cuaderno intenta modificar {found}; las pruebas no puntúan"
        try:
            with cache_in(self._data_dir):  # la caché del núcleo también para el juez
                return super().preprocess(nb, resources, km)
        finally:
            if self._sandbox_km is not None:
                self._sandbox_km.release_sandbox()
            shutil.rmtree(self._workdir, ignore_errors=True)
            # nbgrader escribe ahora el cuaderno calificado, fuera de la caja: por un enlace que
            # dejara el alumno escribiría en cualquier archivo de la máquina.
            remove_links(self._notebook_dir)

    async def async_start_new_kernel(self, **kwargs):
        kwargs["cwd"] = str(self._workdir)
        return await super().async_start_new_kernel(**kwargs)

    start_new_kernel = run_sync(async_start_new_kernel)  # nbclient la define sobre la suya

    async def async_start_new_kernel_client(self):
        client = await super().async_start_new_kernel_client()
        if self.prestart_next:  # este núcleo ya está listo: el de la siguiente entrega, mientras tanto
            await self._prestart_next()
        return client

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    def _death_reason(self) -> str:
        km = self._sandbox_km
        code = None
        process = getattr(getattr(km, "provisioner", None), "process", None)
        if process is not None:
            for _ in range(20):
                code = process.poll()
                if code is not None:
                    break
                time.sleep(0.1)
        if km is not None and oom_killed(km.cgroups):
            return f"el núcleo se quedó sin memoria (límite: {self.memory_mb} MB)"
        if code is not None:
            sig = -code if code < 0 else code - 128 if code > 128 else 0
            if sig == signal.SIGKILL:
                return f"el núcleo fue detenido (SIGKILL), probablemente por memoria (límite: {self.memory_mb} MB)"
            if sig == signal.SIGXCPU:
                return f"el núcleo agotó su tiempo de CPU ({self.cpu_seconds} s)"
            if sig == signal.SIGSEGV:
                return "el núcleo falló con un error de segmentación (acceso inválido a memoria)"
            if sig:
                return f"el núcleo terminó por la señal {signal.Signals(sig).name}"
            return f"el núcleo terminó con el código {code} (¿os._exit o exit dentro del código?)"
        return "el núcleo dejó de responder"

    # ------------------------------------------------------------------ celdas

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        if self._stopped is None and time.monotonic() > self._deadline:
            self._stopped = f"se agotó el tiempo total del cuaderno ({self.notebook_seconds} s)"
        if self._stopped is not None:
            cell.outputs = [error_output("EjecucionDetenida", self._stopped + "; esta celda no se ejecutó.")]
            cell.execution_count = None
            return cell, resources
        if index in self._skipped:
            cell.outputs = [new_output("stream", name="stdout", text=lesson_cells.SKIPPED_NOTE)]
            cell.execution_count = None
            return cell, resources
        from . import judge

        test_cell = is_test_cell(cell)
        original = cell.source
        kernel_source, judge_source = split_judge(original) if test_cell else (original, "")
        if test_cell and self._tampering and not judge_source.strip():
            cell.outputs = [error_output("Manipulacion", self._tampering + ".")]
            return cell, resources
        outbox = self._workdir / judge.PROBE_FOLDER / (grade_id(cell) or f"celda{index}")
        if judge_source.strip():
            outbox = judge.fresh_outbox(self._workdir, outbox.name)  # solo cuenta lo que deje esta celda
            cell.source = judge.probe_prefix(outbox) + kernel_source
        elif test_cell:
            cell.source = BEFORE + original + AFTER
        self._output_left = self.output_chars
        self._timed_out = False
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._stopped = self._death_reason()
            cell.outputs.append(error_output("NucleoDetenido", self._stopped + "."))
        except CellTimeoutError:
            # Ni siquiera la interrupción lo detuvo (p. ej. captura KeyboardInterrupt).
            self._stopped = "la celda agotó su tiempo y el núcleo no respondió a la interrupción"
            cell.outputs.append(error_output("TiempoAgotado", self._stopped + "."))
        finally:
            cell.source = original
        if self._timed_out:
            # La interrupción aparece como KeyboardInterrupt: el motivo real es el tiempo.
            cell.outputs = [o for o in cell.outputs if o.get("ename") != "KeyboardInterrupt"]
            if not any(o.get("ename") == TIMEOUT_ERROR["ename"] for o in cell.outputs):
                cell.outputs.append(new_output("error", **TIMEOUT_ERROR))
        if test_cell:
            # nbgrader toma un resultado («Out») de una celda de pruebas como su nota parcial: el
            # núcleo del alumno no decide la nota, así que se muestra como una salida cualquiera.
            for output in cell.outputs:
                if output.get("output_type") == "execute_result":
                    output.output_type = "display_data"
                    output.pop("execution_count", None)
        if judge_source.strip():
            try:
                verdict = self._verdict(cell, index, judge_source, outbox)
            except GradingSetupError:  # sin los datos del juez no se califica a nadie
                _forget_fresh_submission(resources)
                raise
            if verdict is not None:
                cell.outputs.append(new_output("error", ename="CheckFailed", evalue=verdict,
                                               traceback=[f"\x1b[31mComprobación fallida\x1b[0m: {verdict}"]))
        return cell, resources

    def _verdict(self, cell, index: int, judge_source: str, outbox: Path) -> str | None:
        """El motivo por el que la celda no puntúa según el juez (None si puntúa)."""
        if self._stopped is not None:
            return None  # la celda ya tiene su error (núcleo detenido)
        if self._hidden_from is not None and self._hidden_from[0] < index:
            return self._hidden_from[1]
        from . import judge

        if self._judge is None:
            lab, statements, folder = self._judge_args
            self._judge = judge.Judge(lab, statements, judge.references(folder))
        values = judge.read_outbox(outbox, self._workdir)
        verdict = self._judge.run(grade_id(cell) or "", judge_source, values)
        if verdict is not None and verdict.startswith("el juez de esta celda falló"):
            self.log.warning("%s: %s", grade_id(cell), verdict)
        return verdict

    async def _async_handle_timeout(self, timeout, cell=None):
        self._timed_out = True
        return await super()._async_handle_timeout(timeout, cell)

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = len(str(content.get("text", ""))) + sum(len(str(v)) for v in content.get("data", {}).values())
        if msg.get("msg_type") == "error":
            size = 0  # el error siempre se guarda (decide la nota de la celda), pero acotado
            content["evalue"] = str(content.get("evalue", ""))[: self.error_chars]
            content["traceback"] = [str(line)[: self.error_chars] for line in content.get("traceback", [])[-20:]]
        if size > self._output_left:
            if self._output_left >= 0:
                outs.append(new_output("stream", name="stdout", text=f"\n[salida recortada: más de {self.output_chars} caracteres]\n"))
                self._output_left = -1
            return None
        self._output_left -= size
        return super().output(outs, msg, display_id, cell_index)
