# Dos órdenes para empezar en una máquina nueva:
#   make demo   crea el entorno si falta y ejecuta el ciclo completo del curso
#   make test   crea el entorno si falta y ejecuta las pruebas
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.instalado

.PHONY: demo test entorno paquetes publicar comprobar bench limpiar

entorno: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -r requirements.txt
	$(PY) -m pip install --no-deps -e .
	touch $(STAMP)

# La demo califica como un curso real: con la caja de bubblewrap (si no se puede instalar, lo
# dice y la demo avisa de que califica sin aislamiento).
demo: $(STAMP)
	bash tools/paquetes_debian.sh bubblewrap || echo "AVISO: sin bubblewrap la demo califica sin aislamiento."
	$(PY) -m curso_pytorch demo

# Programas de Debian que necesitan las pruebas (bubblewrap, hunspell, chromium, postgresql).
paquetes:
	bash tools/paquetes_debian.sh

test: $(STAMP) paquetes
	$(PY) -m pytest $(PYTEST_ARGS)

publicar: $(STAMP)
	$(PY) -m curso_pytorch publicar

comprobar: $(STAMP)
	$(PY) -m curso_pytorch comprobar

bench: $(STAMP)
	$(PY) bench/grading_time.py

limpiar:
	rm -rf submitted autograded/*/ feedback publicado gradebook.db notas.csv
