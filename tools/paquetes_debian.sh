#!/usr/bin/env bash
# Programas de Debian que usan las pruebas: bubblewrap (aislamiento de la corrección),
# hunspell-es y hunspell-en-us (ortografía; las glosas en inglés), chromium (JupyterLab en un
# navegador real) y postgresql (libro de calificaciones). Instala los que falten si puede
# (root con apt-get); si no, dice cuáles faltan y cómo instalarlos.
set -euo pipefail
# Sin argumentos, todos; con argumentos, solo esos (make demo pide solo bubblewrap).
paquetes="${*:-bubblewrap hunspell hunspell-es hunspell-en-us chromium chromium-driver postgresql}"
faltan=""
for p in $paquetes; do dpkg -s "$p" >/dev/null 2>&1 || faltan="$faltan $p"; done
[ -z "$faltan" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $faltan
else
  echo "Faltan paquetes de Debian para las pruebas:$faltan" >&2
  echo "Instálelos con: sudo apt-get install$faltan" >&2
  exit 1
fi
