"""Controles de calidad del curso: ortografía, glosario, higiene de los cuadernos y el control de
APIs obsoletas (avisos de obsolescencia de torch, torchvision y torchmetrics convertidos en errores).

La lógica está en ``tests/quality.py`` y en ``curso_pytorch.notebook``; aquí, cada control sobre el
curso real y, al lado, la prueba de que ese control detecta lo que debe detectar.
"""

from __future__ import annotations

import textwrap
import warnings

import nbformat
import pytest

from curso_pytorch import notebook as nbhelpers
from curso_pytorch.checks import CheckFailed, check
from tests import quality

# --------------------------------------------------------------------------- ortografía


@pytest.fixture(scope="module")
def fragments():
    return quality.course_fragments()


@pytest.fixture(scope="module")
def code_words():
    return quality.course_code_names()


@pytest.fixture(scope="module")
def hunspell():
    """Falla con un mensaje claro (en español) si faltan hunspell o sus diccionarios."""
    try:
        quality.hunspell_unknown({"prueba"}, (quality.SPANISH, quality.ENGLISH))
    except quality.SpellCheckerMissing as error:
        pytest.fail(str(error), pytrace=False)


def _report(found: dict[str, list[str]]) -> str:
    lines = [f"  {word}: {', '.join(places[:3])}{' …' if len(places) > 3 else ''}" for word, places in found.items()]
    return (
        "Palabras desconocidas (corrige la errata en el cuaderno; si es un término técnico, una sigla o un "
        f"nombre propio, añádelo a {quality.WORD_LIST.name}):\n" + "\n".join(lines)
    )


def test_no_unknown_words(hunspell, fragments, code_words):
    """Cero palabras desconocidas en los cuadernos (fuente, copia del alumno y lecciones), el README
    y los mensajes del paquete."""
    found = quality.misspellings(fragments, code_words)
    assert not found, _report(found)


def _typo_notebook(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            "La exactitud del modleo mejora en cada época. El `train_one_epoch` de `nn.Module`, la fórmula "
            "$\\sigma(z) = 1/(1+e^{-z})$ y [la documentación](https://pytorch.org/docs/stable/nn.html) no "
            "se revisan. La matriz de confusión (*confusion matrx*) resume los errores."
        ),
        nbformat.v4.new_code_cell(
            "loss = compute_loss(logits, target)   # calcula la pérdida meida del lote\n"
            'print(f"pérdida de entrenamineto: {loss:.3f}")\n'
            'plt.legend(loc="lower right")\n'
            'raise ValueError("Expected all tensors to be on the same device")\n'
        ),
    ]
    path = tmp_path / "erratas.ipynb"
    nbformat.write(nb, path)
    return path


def test_spell_check_catches_typos(hunspell, tmp_path):
    """Erratas en el texto, en una cursiva inglesa, en un comentario y en un mensaje: las cuatro se
    detectan; el código, las fórmulas, las direcciones y las cadenas en inglés, no."""
    found = quality.misspellings(quality.notebook_fragments(_typo_notebook(tmp_path)), {"compute_loss", "loss"})
    assert set(found) == {"modleo", "matrx", "meida", "entrenamineto"}, found
    assert found["meida"] == [f"{tmp_path / 'erratas.ipynb'} · celda 2, línea 1"]


def test_word_list_does_not_hide_typos(hunspell, tmp_path):
    """La lista del curso añade palabras, no quita las que el diccionario rechaza."""
    words = tmp_path / "palabras.txt"
    words.write_text("# comentario\nmodleo\n", encoding="utf-8")
    fragments = [quality.Fragment("prueba", "texto", "El modleo y el modelo no son lo mismo que el modleoo.")]
    assert set(quality.misspellings(fragments, word_list=words)) == {"modleoo"}


def test_word_list_entries_are_used(fragments):
    """Cada entrada de la lista aparece en el curso (la lista no acumula palabras sobrantes)."""
    tokens = {w.lower() for f in fragments for w in quality._WORD.findall(f.text)}
    tokens |= {part for t in tokens for part in t.split("-")}
    unused = []
    for entry in quality.course_words():
        word = entry.split("/")[0].lower()
        stem = word[:-2] if "/" in entry else word
        if not any(t == word or (t.startswith(stem) and "/" in entry) for t in tokens):
            unused.append(entry)
    assert not unused, f"entradas de {quality.WORD_LIST.name} que ya no usa ningún texto: {unused}"


def test_missing_dictionary_is_reported_in_spanish(monkeypatch):
    monkeypatch.setattr(quality, "HUNSPELL_DIRS", ())
    with pytest.raises(quality.SpellCheckerMissing, match="Falta el diccionario es_ES.*hunspell-es"):
        quality.hunspell_unknown({"palabra"})
    monkeypatch.setattr(quality.shutil, "which", lambda name: None)
    with pytest.raises(quality.SpellCheckerMissing, match="Falta el corrector ortográfico hunspell"):
        quality.hunspell_unknown({"palabra"})


# --------------------------------------------------------------------------- glosario


def test_glossary_is_used_consistently(fragments, code_words):
    problems = quality.glossary_problems(fragments, code_words)
    assert not problems, "Términos contrarios al glosario de COURSE_STANDARD.md:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "text, flagged",
    [
        ("La precisión del modelo en prueba es 0,98.", "precisión del modelo"),
        ("La red alcanza una precisión del 97 % en MNIST.", "alcanza una precisión"),
        ("Con lotes grandes, la sensibilidad del modelo baja.", "sensibilidad"),
        ("Bajamos el learning rate a la mitad.", "learning rate"),
        ("Un tamaño de batch de 128 va bien en CPU.", "batch"),
        ("Tras cada epoch se evalúa en validación.", "epoch"),
        ("El dataset tiene 60 000 imágenes.", "dataset"),
        ("Así se ve el overfitting en las curvas.", "overfitting"),
        ("La función de coste guía al optimizador.", "función de coste"),
        ("La tabla de confusión muestra los errores.", "tabla de confusión"),
        ("El scheduler baja la tasa cada época.", "scheduler"),
        ("Los TP son los aciertos de la clase positiva.", "TP"),
        ("Los hiperparámetros se eligen en validación.", "hiperparámetros"),
        ("Ajustamos los hyperparameters con una rejilla.", "hyperparameters"),
        ("Cada token se convierte en un embedding de 16 valores.", "embedding"),
        ("El state_dict guarda parámetros y buffers.", "buffers"),
    ],
)
def test_glossary_flags_misuse(text, flagged):
    problems = quality.glossary_problems([quality.Fragment("prueba", "texto", text)])
    assert len(problems) == 1 and f"«{flagged}»" in problems[0], problems


@pytest.mark.parametrize(
    "fragment",
    [
        quality.Fragment("prueba", "texto", "La precisión por clase y la precisión macro son métricas distintas."),
        quality.Fragment("prueba", "texto", "La exhaustividad (también sensibilidad o TPR) mide los positivos."),
        quality.Fragment("prueba", "texto", "La precisión mixta acelera el entrenamiento en GPU."),
        quality.Fragment("prueba", "texto", "learning rate", foreign=True),  # «tasa de aprendizaje (*learning rate*)»
        quality.Fragment("prueba", "cadena", "exactitud (accuracy) en prueba:"),
        quality.Fragment("prueba", "comentario", "loss media del lote"),  # `loss` es una variable
        quality.Fragment("prueba", "texto", "Alternativas: Weights & Biases y MLflow."),
        quality.Fragment("prueba", "texto", "Exactitud = (VP + VN) / total; los verdaderos positivos (VP) cuentan."),
        quality.Fragment("prueba", "texto", "(En inglés, las siglas son TP, FP, FN y TN.)"),
        quality.Fragment("prueba", "texto", "Los metaparámetros (hyperparameters) se eligen en validación."),
        quality.Fragment("prueba", "texto", "Las incrustaciones (embeddings) son vectores aprendidos."),
        quality.Fragment("prueba", "texto", "Parámetros y búferes (buffers) van en el state_dict."),
        quality.Fragment("prueba", "texto", "hyperparameters", foreign=True),  # «metaparámetros (*hyperparameters*)»
    ],
)
def test_glossary_accepts_correct_use(fragment):
    assert quality.glossary_problems([fragment], {"loss"}) == []


# --------------------------------------------------------------------------- higiene


@pytest.mark.parametrize("path", quality.course_notebooks(), ids=quality.rel)
def test_notebook_hygiene(path):
    """Sin salidas ni contadores, metadatos estables (kernel python3), metadatos de celda solo de
    nbgrader y sin rutas absolutas. (Que release/ coincide con source/ lo prueba test_publish.py.)"""
    problems = quality.hygiene_problems(path)
    assert not problems, "\n".join(problems)


def test_hygiene_catches_dirty_notebooks(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "mi-entorno", "display_name": "Mi entorno", "language": "python"},
                   "language_info": {"name": "python", "version": "3.11.7"}}
    cell = nbformat.v4.new_code_cell('data = load("/home/ana/datos/mnist.npz")', execution_count=3)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hola\n")]
    cell.metadata["scrolled"] = True
    windows = nbformat.v4.new_markdown_cell("Copia los datos a `C:\\Users\\ana\\datos` o a [la web](https://x.org/home/a).")
    nb.cells = [cell, windows]
    path = tmp_path / "sucio.ipynb"
    nbformat.write(nb, path)
    problems = "\n".join(quality.hygiene_problems(path))
    for expected in ("metadatos del cuaderno", "salidas o contador", "no admitidos: ['scrolled']",
                     "«/home", "«C:\\"):
        assert expected in problems, problems
    assert "x.org" not in problems  # una dirección web no es una ruta de la máquina


# --------------------------------------------------------------------------- APIs obsoletas

DEPRECATED_CALLS = {
    # FutureWarning emitido con stacklevel=2: se atribuye a la celda que llama a la API.
    "torch.cuda.amp.autocast": ("import torch\nwith torch.cuda.amp.autocast(enabled=False):\n    pass", FutureWarning),
    # UserWarning que anuncia una obsolescencia, atribuido a la celda.
    "softmax sin dim": ("import torch\ntorch.nn.functional.softmax(torch.randn(2, 3))", UserWarning),
    # UserWarning que torch atribuye a su propio módulo (torch.nn.modules.loss).
    "size_average": ("import torch\ntorch.nn.CrossEntropyLoss(size_average=True)", UserWarning),
}


def _run_as_cell(code: str) -> None:
    """Ejecuta ``code`` como una celda de Jupyter (módulo ``__main__``)."""
    exec(compile(code, "<celda>", "exec"), {"__name__": "__main__"})


@pytest.mark.parametrize("name", DEPRECATED_CALLS)
def test_deprecations_become_errors(name):
    code, category = DEPRECATED_CALLS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _run_as_cell(code)  # sin el control: solo un aviso
        nbhelpers.deprecations_as_errors()
        with pytest.raises(category, match="(?i)deprecat"):
            _run_as_cell(code)


def test_gate_leaves_other_warnings_alone():
    """Los avisos que no anuncian una obsolescencia siguen siendo avisos."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nbhelpers.deprecations_as_errors()
        _run_as_cell("import warnings\nwarnings.warn('aviso corriente', UserWarning)\n"
                     "warnings.warn('desbordamiento', RuntimeWarning)")
    assert [str(w.message) for w in caught] == ["aviso corriente", "desbordamiento"]


def test_check_keeps_the_gate(monkeypatch):
    """``check`` silencia los avisos de las pruebas ocultas, pero no el uso de una API obsoleta."""
    code = DEPRECATED_CALLS["torch.cuda.amp.autocast"][0]
    with warnings.catch_warnings():
        monkeypatch.setenv(nbhelpers.STRICT_WARNINGS_ENV, "1")
        with pytest.raises(CheckFailed, match="FutureWarning.*deprecated"):
            with check("usa autocast"):
                _run_as_cell(code)
        monkeypatch.setenv(nbhelpers.STRICT_WARNINGS_ENV, "0")
        with check("usa autocast"):
            _run_as_cell(code)


def test_allowed_warnings_are_explained():
    for allowed in nbhelpers.ALLOWED_WARNINGS:
        assert allowed.reason.strip() and allowed.message and allowed.module, allowed


def test_add_graph_needs_its_allowed_warning(tmp_path, monkeypatch):
    """La única excepción de la lista hace falta: sin ella, guardar el grafo (laboratorio 07) falla."""
    code = textwrap.dedent(f"""\
        import torch
        from torch.utils.tensorboard import SummaryWriter
        with SummaryWriter({str(tmp_path)!r}) as writer:
            writer.add_graph(torch.nn.Linear(4, 2), torch.randn(3, 4))
    """)
    with warnings.catch_warnings():
        nbhelpers.deprecations_as_errors()
        _run_as_cell(code)
    monkeypatch.setattr(nbhelpers, "ALLOWED_WARNINGS", ())
    with warnings.catch_warnings():
        nbhelpers.deprecations_as_errors()
        with pytest.raises(FutureWarning, match="torch.jit.trace"):
            _run_as_cell(code)


def test_the_test_suite_runs_notebooks_with_the_gate():
    """conftest.py activa el control para todos los núcleos que lanzan las pruebas (lecciones y
    calificación de la referencia con nbgrader)."""
    assert nbhelpers.strict_warnings_requested()


def test_gate_in_a_jupyter_kernel(tmp_path):
    """En un núcleo real (como en las lecciones y en nbgrader), tras la celda de preparación, una API
    obsoleta hace fallar la celda; dentro de ``check`` la comprobación falla con el aviso."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import torch\nfrom curso_pytorch.notebook import setup\ndevice = setup(verbose=False)"),
        nbformat.v4.new_code_cell(DEPRECATED_CALLS["torch.cuda.amp.autocast"][0]),
        nbformat.v4.new_code_cell(textwrap.dedent("""\
            from curso_pytorch.checks import check
            with check("la prueba oculta"):
                torch.nn.CrossEntropyLoss(size_average=True)
        """)),
        nbformat.v4.new_code_cell("print('fin')"),
    ]
    NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [[o for o in c.outputs if o.output_type == "error"] for c in nb.cells]
    assert not errors[0] and not errors[3], errors
    assert errors[1] and errors[1][0].ename == "FutureWarning", errors[1]
    assert errors[2] and errors[2][0].ename == "CheckFailed" and "UserWarning" in errors[2][0].evalue, errors[2]
