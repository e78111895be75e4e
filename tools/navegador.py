"""El Chromium sin pantalla de las pruebas y de las capturas de pantalla del curso (Playwright).

Un solo sitio para la ruta del navegador (``CURSO_CHROMIUM``, por defecto el Chromium de Debian que
instala ``tools/paquetes_debian.sh``) y sus opciones: sin GPU, sin sincronización ni consultas a
internet, con un perfil nuevo en cada arranque.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

CHROMIUM = Path(os.environ.get("CURSO_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class BrowserMissing(RuntimeError):
    """Faltan Playwright o Chromium; el mensaje dice cómo instalarlos."""


def browser_tools():
    """``sync_playwright`` y ``expect`` de Playwright, tras comprobar que Chromium está instalado."""
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        raise BrowserMissing("Falta Playwright para Python: «pip install playwright» "
                             "(requirements.txt lo incluye).") from None
    if not CHROMIUM.is_file():
        raise BrowserMissing(f"Falta Chromium en {CHROMIUM}: instálalo (en Debian, «apt-get install chromium») "
                             "o indica su ruta en CURSO_CHROMIUM.")
    return sync_playwright, expect


def launch(playwright):
    """Chromium sin pantalla; ``launch()`` usa un perfil nuevo y temporal en cada arranque."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


def free_port() -> int:
    """Un puerto TCP libre en 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
