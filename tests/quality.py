"""Controles de calidad de los textos del curso: ortografía (hunspell, diccionario es_ES),
coherencia con el glosario de la norma del curso e higiene de los cuadernos guardados en git.

Todo lo que lee el alumno se revisa: las celdas de texto, y en las de código los comentarios y
las cadenas en español (mensajes, textos de ``print``, títulos de gráficas). Se descarta lo que
no es prosa: código en línea, fórmulas, direcciones y nombres de código.
"""

from __future__ import annotations

import ast
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import tokenize
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORD_LIST = Path(__file__).with_name("palabras_del_curso.txt")
SPANISH, ENGLISH = "es_ES", "en_US"
DEBIAN_PACKAGES = "«hunspell», «hunspell-es» y «hunspell-en-us»"
HUNSPELL_DIRS = (Path("/usr/share/hunspell"), Path("/usr/share/myspell/dicts"))


def course_notebooks() -> list[Path]:
    """Laboratorios fuente, copias del alumno, lecciones y soluciones comentadas."""
    return (
        sorted(REPO.glob("source/*/*.ipynb"))
        + sorted(REPO.glob("release/*/*.ipynb"))
        + sorted(REPO.glob("notebooks/*.ipynb"))
        + sorted(REPO.glob("soluciones/*.ipynb"))
    )


def rel(path: Path) -> str:
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- extraer la prosa


@dataclass(frozen=True)
class Fragment:
    """Un trozo de prosa y dónde está."""

    where: str  # «archivo · celda N», «archivo · celda N, línea M» o «archivo · línea M»
    kind: str  # "texto", "comentario" o "cadena"
    text: str
    foreign: bool = False  # cursiva o título enlazado: puede estar en inglés


NBGRADER_MARKERS = re.compile(r"#+\s*(BEGIN|END) (SOLUTION|HIDDEN TESTS)\b")
TOOL_COMMENTS = re.compile(r"#\s*(noqa|type:|pragma|fmt:)")

_FENCED = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_DISPLAY_MATH = re.compile(r"\$\$.*?\$\$|\\\[.*?\\\]|\\begin\{(\w+\*?)\}.*?\\end\{\1\}", re.S)
_INLINE_MATH = re.compile(r"(?<![\\\w])\$(?!\s)[^$\n]+?(?<![\s\\])\$(?!\w)|\\\(.*?\\\)")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.S)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_REF_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*\S+.*$", re.M)
_URL = re.compile(r"\b(?:https?|ftp|file)://\S+|\bwww\.\S+")
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_ENTITY = re.compile(r"&[a-zA-Z]+;|&#\d+;")
# Cursiva (*término* o _término_), no negrita: la norma del curso escribe en cursiva el término
# inglés que acompaña a su traducción, «matriz de confusión (*confusion matrix*)».
_ITALIC = re.compile(
    r"\*\*\*(?!\s)((?:[^*\n]|\n(?!\n))+?)\*\*\*"  # ***negrita y cursiva***
    r"|(?<![*\w])\*(?![*\s])((?:[^*\n]|\n(?!\n))+?)(?<![*\s])\*(?![*\w])"  # *cursiva*
    r"|(?<![_\w])_(?![_\s])((?:[^_\n]|\n(?!\n))+?)(?<![_\s])_(?![_\w])"  # _cursiva_
)

# Entre comillas: títulos de obras y mensajes citados, a menudo en inglés.
_QUOTES = re.compile(r"«([^»]*)»|“([^”]*)”")


def markdown_prose(text: str) -> tuple[str, str]:
    """El texto de una celda markdown sin código, fórmulas, direcciones ni etiquetas HTML,
    separado en ``(prosa en español, cursivas, textos de enlaces y citas)``: los segundos pueden
    ser términos, títulos o mensajes en inglés."""
    for pattern in (_FENCED, _HTML_COMMENT, _DISPLAY_MATH, _INLINE_MATH, _INLINE_CODE, _IMAGE, _REF_LINK):
        text = pattern.sub(" ", text)
    text, links = _take(_LINK, text)
    for pattern in (_URL, _HTML_TAG, _ENTITY):
        text = pattern.sub(" ", text)
    text, foreign = split_foreign(text)
    return text, "\n".join([links, foreign])


def _take(pattern: re.Pattern, text: str) -> tuple[str, str]:
    taken = []

    def take(match: re.Match) -> str:
        taken.append(next(g for g in match.groups() if g is not None))
        return " "

    return pattern.sub(take, text), "\n".join(taken)


def split_foreign(text: str) -> tuple[str, str]:
    """Separa de un texto las cursivas y las citas entre comillas (pueden estar en inglés)."""
    text, italics = _take(_ITALIC, text)
    text, quotes = _take(_QUOTES, text)
    return text, "\n".join([italics, quotes])


_FORMAT_FIELD = re.compile(r"\{[^{}]*\}")
_PRINTF_FIELD = re.compile(r"%(?:\(\w+\))?[-+ #0]*\d*(?:\.\d+)?[sdifgerx%]")
_TWO_WORDS = re.compile(r"[^\W\d_]{2,}[.,:;!?)»]*\s+[¿¡(«]*[^\W\d_]{2,}")
# Argumentos cuyo valor es una opción, no un texto: loc="lower right".
OPTION_KEYWORDS = {"loc", "ha", "va", "cmap", "color", "marker", "linestyle", "mode", "reduction", "average"}


def _looks_like_prose(text: str) -> bool:
    """Una cadena es prosa si tiene dos palabras seguidas (no «cuda», «%.3f», «curso-pytorch @ git+…»)."""
    return bool(_TWO_WORDS.search(text))


# Dentro de un mensaje, lo que va entre comillas rectas es código (reduction='mean') y lo que lleva
# barras, una etiqueta o una ruta (Loss/train).
_QUOTED_CODE = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"|\S+/\S*")


def code_names(code: str) -> set[str]:
    """Los nombres que usa un código Python: variables, funciones, clases, atributos, argumentos
    y módulos. En los comentarios y mensajes del curso, esas palabras son código, no prosa."""
    try:
        tree = ast.parse(_python_source(code))
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.keyword) and node.arg:
            names.add(node.arg)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier():
            names.add(node.value)  # claves y opciones: "hamming", "inf", "val_acc"
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.update(alias.name.split("."))
                names.add(alias.asname or "")
            names.update((getattr(node, "module", None) or "").split("."))
    return names - {""}


def _python_source(code: str) -> str:
    """El código de una celda sin órdenes mágicas de IPython (``%``, ``!``), que no son Python."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in code.splitlines())


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def code_prose(code: str, comments: bool = True, docstrings: bool = True) -> list[tuple[int, str, str]]:
    """Comentarios y cadenas en español de un código Python: ``(línea, tipo, texto)``.

    Las cadenas de una sola palabra (``"cuda"``, ``"mean"``) no son prosa.
    """
    source = _python_source(code)
    found = []
    if comments:
        try:
            for tok in tokenize.generate_tokens(io.StringIO(source).readline):
                if tok.type == tokenize.COMMENT and not NBGRADER_MARKERS.match(tok.string):
                    comment = TOOL_COMMENTS.split(tok.string)[0].lstrip("#!").strip()
                    if comment:
                        found.append((tok.start[0], "comentario", comment))
        except (tokenize.TokenError, IndentationError, SyntaxError):
            pass
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return found
    skip = set() if docstrings else _docstrings(tree)
    skip |= {id(node.value) for node in ast.walk(tree)
             if isinstance(node, ast.keyword) and node.arg in OPTION_KEYWORDS}
    inside_fstrings = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values}
    for node in ast.walk(tree):
        if id(node) in skip or id(node) in inside_fstrings:
            continue
        if isinstance(node, ast.JoinedStr):  # f-string: solo sus trozos literales
            text = "".join(v.value if isinstance(v, ast.Constant) else " " for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        text = _PRINTF_FIELD.sub(" ", _FORMAT_FIELD.sub(" ", text))
        if _looks_like_prose(text):
            text = _QUOTED_CODE.sub(" ", _URL.sub(" ", _INLINE_CODE.sub(" ", text)))
            found.append((node.lineno, "cadena", text))
    return sorted(found)


def _text_fragments(where: str, markdown: str) -> list[Fragment]:
    spanish, foreign = markdown_prose(markdown)
    return [Fragment(where, "texto", spanish), Fragment(where, "texto", foreign, foreign=True)]


def notebook_fragments(path: Path) -> list[Fragment]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    fragments = []
    for number, cell in enumerate(nb["cells"], 1):
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        where = f"{rel(path)} · celda {number}"
        if cell["cell_type"] == "markdown":
            fragments += _text_fragments(where, source)
        elif cell["cell_type"] == "code":
            fragments += _code_fragments(f"{where}, línea ", code_prose(source))
    return fragments


def _code_fragments(where: str, found: list[tuple[int, str, str]]) -> list[Fragment]:
    fragments = []
    for line, kind, text in found:
        spanish, foreign = _take(_QUOTES, text)
        fragments += [Fragment(f"{where}{line}", kind, spanish), Fragment(f"{where}{line}", kind, foreign, True)]
    return fragments


def course_code_names() -> set[str]:
    """Los nombres de código del curso (celdas de los cuadernos y paquete) y los de Python."""
    import builtins
    import keyword

    names = set(dir(builtins)) | set(keyword.kwlist) | set(sys.stdlib_module_names)
    for path in course_notebooks():
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                names |= code_names("".join(cell["source"]))
    for path in sorted((REPO / "curso_pytorch").glob("*.py")):
        names |= code_names(path.read_text(encoding="utf-8"))
    return names


def course_fragments() -> list[Fragment]:
    """La prosa que leen alumnos y profesores: los cuadernos, el README y los mensajes del paquete
    del curso (sus cadenas en español; no los comentarios ni las cadenas de documentación)."""
    fragments = []
    for path in course_notebooks():
        fragments += notebook_fragments(path)
    readme = REPO / "README.md"
    fragments += _text_fragments(rel(readme), readme.read_text(encoding="utf-8"))
    for path in sorted((REPO / "curso_pytorch").glob("*.py")):
        code = path.read_text(encoding="utf-8")
        fragments += _code_fragments(f"{rel(path)} · línea ", code_prose(code, comments=False, docstrings=False))
    return fragments


# --------------------------------------------------------------------------- ortografía

# Nombres de código que quedan en la prosa: snake_case, CamelCase, nombres con punto o que
# terminan en paréntesis (llamadas), y palabras con dígitos.
_IDENTIFIER = re.compile(
    r"\b[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+\b"  # nn.Module, torch.optim.SGD, nbgrader_config.py
    r"|\b\w*_\w*\b"  # snake_case, _privado, __dunder__
    r"|\b[a-z]+[A-Z]\w*\b"  # camelCase
    r"|\b[A-Z][a-z]+[A-Z]\w*\b"  # CamelCase (DataLoader, TensorBoard)
    r"|\b\w+(?=\()"  # llamadas: softmax(
    r"|\b\w*\d\w*\b"  # con dígitos: F1, CIFAR10, 2d
)
# Autores de las referencias: apellidos tras sus iniciales («D. P. Kingma», «J. Ba») o antes de
# «et al.» («Izmailov et al.»).
_AUTHOR = re.compile(r"\b(?:[A-Z]\.[\s-]*)+[A-Z][\w-]+|\b[A-Z][\w-]+(?= et al\.)")
_LETTERS = "A-Za-zÀ-ÖØ-öø-ÿ"
_WORD = re.compile(rf"[{_LETTERS}]+(?:-[{_LETTERS}]+)*")


def words(text: str, compounds: frozenset[str] = frozenset()) -> list[str]:
    """Las palabras de un texto que revisa el corrector (dos letras o más, sin nombres de código).

    Las palabras con guion se revisan por partes, salvo los compuestos de ``compounds`` (en
    minúsculas: scikit-learn, mann-whitney), que se aceptan enteros.
    """
    found = []
    for token in _WORD.findall(_IDENTIFIER.sub(" ", _AUTHOR.sub(" ", text))):
        if token.lower() not in compounds:
            found += [w for w in token.split("-") if len(w) >= 2]
    return found


class SpellCheckerMissing(RuntimeError):
    """Falta hunspell o uno de sus diccionarios."""


def dictionary_path(name: str) -> Path:
    for folder in HUNSPELL_DIRS:
        if (folder / f"{name}.dic").is_file() and (folder / f"{name}.aff").is_file():
            return folder / name
    raise SpellCheckerMissing(
        f"Falta el diccionario {name} de hunspell: instala los paquetes de Debian {DEBIAN_PACKAGES} "
        "(CI los instala en .ci/run)."
    )


def course_words(word_list: Path = WORD_LIST) -> list[str]:
    """Las palabras de la lista del curso (sin comentarios ni líneas vacías)."""
    lines = word_list.read_text(encoding="utf-8").splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def hunspell_unknown(candidates: set[str], dictionaries: tuple[str, ...] = (SPANISH,),
                     word_list: Path = WORD_LIST) -> set[str]:
    """Las palabras de ``candidates`` que no están en ``dictionaries`` ni en la lista del curso."""
    exe = shutil.which("hunspell")
    if exe is None:
        raise SpellCheckerMissing(
            f"Falta el corrector ortográfico hunspell: instala los paquetes de Debian {DEBIAN_PACKAGES} "
            "(CI los instala en .ci/run)."
        )
    paths = ",".join(str(dictionary_path(name)) for name in dictionaries)
    if not candidates:
        return set()
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".dic") as personal:
        personal.write("\n".join(course_words(word_list)) + "\n")
        personal.flush()
        result = subprocess.run(
            [exe, "-d", paths, "-p", personal.name, "-i", "utf-8", "-l"],
            input="\n".join(sorted(candidates)) + "\n",
            capture_output=True, text=True, encoding="utf-8", check=True,
        )
    return set(result.stdout.split())


def misspellings(fragments: list[Fragment], code_words: set[str] = frozenset(),
                 word_list: Path = WORD_LIST) -> dict[str, list[str]]:
    """``{palabra desconocida: [dónde aparece]}``.

    La prosa se revisa con el diccionario español; las cursivas, los textos de enlaces y las citas,
    con el español y el inglés. En comentarios y cadenas de código no se revisan los nombres de
    ``code_words``, y solo se revisan las cadenas en español (más palabras españolas que inglesas;
    no los mensajes de otras bibliotecas que se buscan en un error).
    """
    compounds = frozenset(w.lower() for w in course_words(word_list) if "-" in w)
    found_words = [
        [w for w in words(f.text, compounds) if f.kind == "texto" or w not in code_words] for f in fragments
    ]
    strings = {w for f, ws in zip(fragments, found_words) if f.kind == "cadena" for w in ws}
    not_spanish = hunspell_unknown(strings, (SPANISH,), word_list)
    not_english = hunspell_unknown(strings, (ENGLISH,), word_list)

    def english(ws: list[str]) -> bool:
        return sum(w not in not_spanish for w in ws) <= sum(w not in not_english for w in ws)

    located: dict[tuple[str, bool], list[str]] = {}
    for fragment, ws in zip(fragments, found_words):
        if fragment.kind == "cadena" and english(ws):
            continue
        for word in ws:
            places = located.setdefault((word, fragment.foreign), [])
            if fragment.where not in places:
                places.append(fragment.where)
    found: dict[str, list[str]] = {}
    for foreign, dictionaries in ((False, (SPANISH,)), (True, (SPANISH, ENGLISH))):
        candidates = {word for word, is_foreign in located if is_foreign == foreign}
        for word in hunspell_unknown(candidates, dictionaries, word_list):
            found.setdefault(word, []).extend(located[(word, foreign)])
    return dict(sorted(found.items()))


# --------------------------------------------------------------------------- glosario


@dataclass(frozen=True)
class GlossaryRule:
    """Un uso que contradice el glosario de la norma del curso (COURSE_STANDARD.md)."""

    pattern: str  # expresión regular (sin distinguir mayúsculas) sobre la prosa en español
    correct: str  # el término del glosario
    reason: str
    after: str = ""  # el término inglés sí puede ir entre paréntesis tras este: «exactitud (accuracy)»
    sentence: str = ""  # en una frase que contenga esto, el uso es correcto


def _english(words: str) -> str:
    """El término inglés como palabra suelta (no ``batch_size`` ni ``loss.backward``)."""
    return rf"(?<![\w.]){words}(?![\w(])"


GLOSSARY_RULES: tuple[GlossaryRule, ...] = (
    GlossaryRule(
        r"precisi[oó]n (?:(?:del?|en) (?:modelo|clasificador|clasificación|la red|entrenamiento|validación"
        r"|prueba|test|el conjunto de (?:prueba|validación|entrenamiento))|global|total|final|top-?\d"
        r"|(?:del|de un|de) \d+(?:[.,]\d+)? ?%)"
        r"|(?:alcanz|obtien|obten|logr|consigu)\w* (?:una |un )?(?:\w+ )?precisi[oó]n",
        "exactitud",
        "la fracción de aciertos es la exactitud (accuracy); «precisión» es precision",
    ),
    GlossaryRule(r"\bsensibilidad\b", "exhaustividad",
                 "recall es «exhaustividad»; «sensibilidad» solo como sinónimo junto a ella",
                 sentence="exhaustividad"),
    GlossaryRule(r"recuperaci[oó]n (?:del modelo|de la clase|macro|micro|ponderada|por clase|media)"
                 r"|(?:tasa|índice) de recuperaci[oó]n",
                 "exhaustividad", "recall es «exhaustividad»"),
    GlossaryRule(_english("recall"), "exhaustividad", "en la prosa, recall es «exhaustividad»",
                 after="exhaustividad"),
    GlossaryRule(_english("accuracy"), "exactitud", "en la prosa, accuracy es «exactitud»",
                 after="exactitud"),
    GlossaryRule(_english("precision"), "precisión", "en la prosa, precision es «precisión»",
                 after="precisión"),
    GlossaryRule(_english("loss(?:es)?"), "pérdida", "loss es «pérdida»", after="pérdida"),
    GlossaryRule(r"funci[oó]n de (?:coste|costo)", "función de pérdida", "loss es «pérdida»"),
    GlossaryRule(_english("learning rates?") + r"|(?:ritmo|velocidad|razón|coeficiente) de aprendizaje"
                 r"|tasa de entrenamiento",
                 "tasa de aprendizaje", "learning rate es «tasa de aprendizaje»",
                 after="tasa de aprendizaje"),
    GlossaryRule(_english("(?:mini-?)?batch(?:es)?(?: size)?"), "lote", "batch es «lote»",
                 after="lote"),
    GlossaryRule(_english("epochs?"), "época", "epoch es «época»", after="época"),
    GlossaryRule(_english("weights?"), "pesos", "weights es «pesos»",
                 after="pesos?", sentence="Weights & Biases"),
    GlossaryRule(_english("bias(?:es)?"), "sesgo", "bias es «sesgo»",
                 after="sesgos?", sentence="Weights & Biases"),
    GlossaryRule(_english("layers?"), "capa", "layer es «capa»", after="capas?"),
    GlossaryRule(_english("overfitting") + r"|sobre-?entrenamiento|sobreaprendizaje|sobre-ajuste",
                 "sobreajuste", "overfitting es «sobreajuste»", after="sobreajuste"),
    GlossaryRule(_english("underfitting") + r"|infra-?ajuste|sub-ajuste|infraentrenamiento",
                 "subajuste", "underfitting es «subajuste»", after="subajuste"),
    GlossaryRule(_english("datasets?") + r"|\b(?:set|juego)s? de datos", "conjunto de datos",
                 "dataset es «conjunto de datos»", after="conjuntos? de datos"),
    GlossaryRule(_english("training loops?") + r"|(?:ciclo|lazo) de entrenamiento", "bucle de entrenamiento",
                 "training loop es «bucle de entrenamiento»", after="bucles? de entrenamiento"),
    GlossaryRule(_english("schedulers?") + r"|programador(?:es)? de (?:la )?tasa", "planificador",
                 "scheduler es «planificador de la tasa de aprendizaje»", after="planificador(?:es)?"),
    GlossaryRule(_english("feature maps?") + r"|mapas? de rasgos", "mapa de características",
                 "feature map es «mapa de características»", after="mapas? de características"),
    GlossaryRule(_english("confusion matrix") + r"|matriz de confusiones|tabla de confusión", "matriz de confusión",
                 "confusion matrix es «matriz de confusión»", after="matriz de confusión"),
    # Conceptos con dos variantes en uso: el curso eligió una.
    GlossaryRule(r"(?-i:\b(?:TP|TN)\b)", "VP/VN",
                 "true positives/negatives son «verdaderos positivos (VP)» y «verdaderos negativos (VN)»; "
                 "las siglas inglesas, solo en una frase que diga que son las inglesas",
                 sentence=r"\ben inglés\b"),
    GlossaryRule(r"\bhiper-?par[aá]metros?\b|" + _english("hyper-?parameters?"), "metaparámetros",
                 "hyperparameters son «metaparámetros»", after="metaparámetros?"),
    GlossaryRule(_english("embeddings?"), "incrustaciones",
                 "embedding es «incrustación» (la clase `nn.Embedding`, como código)", after="incrustaci(?:ón|ones)"),
    GlossaryRule(_english("buffers?"), "búferes", "buffer es «búfer» (plural «búferes»)", after="búfer(?:es)?"),
)

_SENTENCE_END = re.compile(r"[.!?;:\n]\s")


def glossary_problems(fragments: list[Fragment], code_words: set[str] = frozenset()) -> list[str]:
    """Usos contrarios al glosario en la prosa en español (no en cursivas, citas ni enlaces, donde
    va el término inglés); en comentarios y cadenas no cuentan los nombres de código."""
    problems = []
    for fragment in fragments:
        if fragment.foreign:
            continue
        text = fragment.text
        for rule in GLOSSARY_RULES:
            for match in re.finditer(rule.pattern, text, re.I):
                if fragment.kind != "texto" and match.group(0) in code_words:
                    continue
                start = max((m.end() for m in _SENTENCE_END.finditer(text, 0, match.start())), default=0)
                ends = _SENTENCE_END.search(text, match.end())
                sentence = text[start:ends.start() if ends else len(text)]
                if rule.after and re.search(rf"{rule.after}\s*\(\s*$", text[start:match.start()], re.I):
                    continue
                if rule.sentence and re.search(rule.sentence, sentence, re.I):
                    continue
                problems.append(f"{fragment.where}: «{match.group(0)}» → «{rule.correct}» ({rule.reason})")
    return problems


# --------------------------------------------------------------------------- higiene

# Los metadatos que deja ``publish.normalize_notebook``: nada que dependa de la máquina o del
# programa con que se editó el cuaderno.
NOTEBOOK_METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}
# Metadatos de celda admitidos en cada carpeta (nbgrader marca las celdas de source/ y release/).
CELL_METADATA = {"source": {"nbgrader"}, "release": {"nbgrader", "editable", "deletable"}, "notebooks": set(),
                 "soluciones": set()}
# Rutas absolutas de una máquina concreta (Linux, macOS, Windows).
ABSOLUTE_PATH = re.compile(r"(?<![\w.~/-])/(?:work|tmp|root|home|Users|mnt|var|opt|srv)\b|(?<!\w)[A-Za-z]:\\")


def hygiene_problems(path: Path) -> list[str]:
    """Lo que no debe llegar a git en un cuaderno: salidas, contadores de ejecución, metadatos
    inestables o ajenos al curso, celdas sin identificador o repetido y rutas absolutas."""
    import nbformat

    name = rel(path)
    folder = Path(name).parts[0]
    nb = json.loads(path.read_text(encoding="utf-8"))
    problems = []
    try:
        nbformat.validate(nbformat.from_dict(nb))
    except nbformat.ValidationError as error:
        problems.append(f"{name}: no es un cuaderno válido ({error.message})")
    if (nb.get("nbformat"), nb.get("nbformat_minor")) != (4, 5):
        problems.append(f"{name}: formato {nb.get('nbformat')}.{nb.get('nbformat_minor')}; se espera 4.5")
    if nb.get("metadata") != NOTEBOOK_METADATA:
        problems.append(f"{name}: metadatos del cuaderno {nb.get('metadata')}; se esperan {NOTEBOOK_METADATA}")
    ids = [cell.get("id") for cell in nb.get("cells", [])]
    if None in ids or len(set(ids)) != len(ids):
        problems.append(f"{name}: hay celdas sin identificador o con el identificador repetido")
    for number, cell in enumerate(nb.get("cells", []), 1):
        where = f"{name} · celda {number}"
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
            problems.append(f"{where}: tiene salidas o contador de ejecución guardados")
        extra = set(cell.get("metadata", {})) - CELL_METADATA.get(folder, set())
        if extra:
            problems.append(f"{where}: metadatos de celda no admitidos: {sorted(extra)}")
        if "nbgrader" in cell.get("metadata", {}) and not cell["metadata"]["nbgrader"]:
            problems.append(f"{where}: metadatos nbgrader vacíos (generate_assignment los rechaza)")
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        for match in ABSOLUTE_PATH.finditer(_URL.sub(" ", source)):
            problems.append(f"{where}: ruta absoluta «{match.group(0)}…»; usa rutas relativas o data_root()")
    return problems
