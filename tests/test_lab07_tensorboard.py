"""Laboratorio 07: la referencia saca el máximo, la copia en blanco 0 y cada error típico
pierde exactamente los puntos de su parte. La sonda lee los archivos de eventos en el núcleo del
alumno; el juez los compara con su propio entrenamiento de referencia (float64)."""

from tests.grading import ADDED_CELLS, BASE64_CELL, BLANK, LabGradingTests, cell_errors

LAB = "07_tensorboard"
ALL = {"test_perdida_entrenamiento", "test_metricas_validacion", "test_histogramas_lr", "test_imagen_validacion",
       "test_hiperparametros", "test_writer_cerrado"}

BUGS = {
    # Olvida incrementar el paso global: todos los puntos de Loss/train caen en el paso 0.
    "mismo_paso": (
        {"train_with_tensorboard": [("            global_step += 1\n", "")]},
        {"test_perdida_entrenamiento"},
    ),
    # Como la semilla 002: registra la pérdida y la exactitud de validación de cada lote de
    # validación, con su propio contador, en lugar de una vez por época.
    "validacion_por_lote": (
        {"train_with_tensorboard": [
            ("    global_step = 0\n", "    global_step = 0\n    val_step = 0\n"),
            ("                total_loss += loss_fn(out, yb).item() * len(yb)\n",
             "                batch_loss = loss_fn(out, yb).item()\n"
             "                writer.add_scalar(\"Loss/valid\", batch_loss, val_step)\n"
             "                writer.add_scalar(\"Accuracy/valid\", (out.argmax(dim=1) == yb).float().mean().item(), val_step)\n"
             "                val_step += 1\n"
             "                total_loss += batch_loss * len(yb)\n"),
            ("        writer.add_scalar(\"Loss/valid\", valid_loss, epoch)\n", ""),
            ("        writer.add_scalar(\"Accuracy/valid\", valid_acc, epoch)\n", ""),
        ]},
        {"test_metricas_validacion"},
    ),
    # Registra como Accuracy/valid un tensor con la exactitud del último lote de entrenamiento.
    "exactitud_de_entrenamiento": (
        {"train_with_tensorboard": [
            ("writer.add_scalar(\"Accuracy/valid\", valid_acc, epoch)",
             "writer.add_scalar(\"Accuracy/valid\", (logits.argmax(dim=1) == targets).float().mean(), epoch)"),
        ]},
        {"test_metricas_validacion"},
    ),
    # Evalúa sin model.eval(): BatchNorm normaliza la validación con las estadísticas de cada lote.
    "validacion_sin_eval": (
        {"train_with_tensorboard": [("        model.eval()\n", "")]},
        {"test_metricas_validacion"},
    ),
    # La pérdida de validación como media de las medias de los lotes (el último lote es más pequeño).
    "media_de_medias": (
        {"train_with_tensorboard": [
            ("total_loss += loss_fn(out, yb).item() * len(yb)", "total_loss += loss_fn(out, yb).item()"),
            ("valid_loss, valid_acc = total_loss / count, correct / count",
             "valid_loss, valid_acc = total_loss / len(val_loader), correct / count"),
        ]},
        {"test_metricas_validacion"},
    ),
    # add_hparams sin métricas: la tabla de metaparámetros no tiene nada que comparar.
    "hparams_sin_metricas": (
        {"train_with_tensorboard": [("writer.add_hparams(hparams, metrics, run_name=\".\")",
                                     "writer.add_hparams(hparams, {}, run_name=\".\")")]},
        {"test_hiperparametros"},
    ),
    # No cierra el writer: su hilo de escritura sigue vivo y lo pendiente puede no estar en el disco.
    "writer_sin_cerrar": (
        {"train_with_tensorboard": [("    writer.close()\n", "")]},
        {"test_writer_cerrado"},
    ),
    # La cuadrícula sale de las primeras imágenes de entrenamiento, no del lote de validación.
    "imagen_de_entrenamiento": (
        {"train_with_tensorboard": [("first_images, _ = next(iter(val_loader))",
                                     "first_images, _ = train_loader.dataset[:64]")]},
        {"test_imagen_validacion"},
    ),
}


# Un error por requisito del enunciado que no rompe ningún otro (tests/requirements.py los enlaza
# con la frase del enunciado). No todos los ven las pruebas visibles, así que van fuera de BUGS.
STATEMENT_BUGS = {
    # «SummaryWriter(log_dir=log_dir)»: el writer por defecto escribe en runs/, fuera de log_dir, y las
    # pruebas no encuentran nada.
    "writer_sin_log_dir": (
        {"train_with_tensorboard": [("SummaryWriter(log_dir=str(log_dir))", "SummaryWriter()")]},
        ALL,
    ),
    # «sin volver a 0 al cambiar de época»: el paso global se reinicia en cada época.
    "paso_por_epoca": (
        {"train_with_tensorboard": [("    global_step = 0\n    for epoch in range(1, epochs + 1):\n",
                                     "    for epoch in range(1, epochs + 1):\n        global_step = 0\n")]},
        {"test_perdida_entrenamiento"},
    ),
    # «listas de float de Python»: la historia de entrenamiento guarda tensores.
    "historia_con_tensores": (
        {"train_with_tensorboard": [('history["train_loss"].append(loss.item())',
                                     'history["train_loss"].append(loss.detach())')]},
        {"test_perdida_entrenamiento"},
    ),
    # «sobre todo val_loader»: se salta el último lote de validación, que es más pequeño.
    "validacion_sin_ultimo_lote": (
        {"train_with_tensorboard": [("            for xb, yb in val_loader:\n",
                                     "            for xb, yb in val_loader:\n"
                                     "                if len(yb) < val_loader.batch_size:\n"
                                     "                    continue\n")]},
        {"test_metricas_validacion"},
    ),
    # «un float de Python»: la exactitud como tensor.
    "exactitud_tensor": (
        {"train_with_tensorboard": [("correct += (out.argmax(dim=1) == yb).sum().item()",
                                     "correct += (out.argmax(dim=1) == yb).sum()")]},
        {"test_metricas_validacion"},
    ),
    # «LearningRate (optimizer.param_groups[0]["lr"])»: la tasa de defaults, que no sigue a un
    # planificador (la sonda cambia la del grupo).
    "lr_de_defaults": (
        {"train_with_tensorboard": [('optimizer.param_groups[0]["lr"], epoch)', 'optimizer.defaults["lr"], epoch)')]},
        {"test_histogramas_lr"},
    ),
    # «tras entrenarla» (la tabla): el histograma de los pesos al empezar la época.
    "histograma_antes_de_entrenar": (
        {"train_with_tensorboard": [
            ("        for name, param in model.named_parameters():\n"
             "            writer.add_histogram(f\"Parameters/{name}\", param, epoch)\n", ""),
            ("        model.train()\n",
             "        for name, param in model.named_parameters():\n"
             "            writer.add_histogram(f\"Parameters/{name}\", param, epoch)\n"
             "        model.train()\n")]},
        {"test_histogramas_lr"},
    ),
    # «mueve el modelo a device»: sin model.to(device) (en una máquina sin GPU no cambia ningún valor).
    "modelo_sin_mover": (
        {"train_with_tensorboard": [("    model.to(device)\n", "")]},
        {"test_perdida_entrenamiento"},
    ),
    # «y cada lote, al usarlo»: los lotes llegan al modelo y a la pérdida sin .to(device).
    "lotes_sin_mover": (
        {"train_with_tensorboard": [("            images, targets = images.to(device), targets.to(device)\n", ""),
                                    ("                xb, yb = xb.to(device), yb.to(device)\n", "")]},
        {"test_perdida_entrenamiento"},
    ),
    # «Entrena en modo model.train()»: tras la validación de la primera época, el resto entrena en modo eval.
    "entrena_sin_model_train": (
        {"train_with_tensorboard": [("        model.train()\n", "")]},
        {"test_perdida_entrenamiento", "test_metricas_validacion", "test_histogramas_lr", "test_hiperparametros"},
    ),
    # «dentro de torch.no_grad()»: la validación construye el grafo (los valores son los mismos).
    "validacion_con_gradientes": (
        {"train_with_tensorboard": [("        with torch.no_grad():\n", "        if True:\n")]},
        {"test_metricas_validacion"},
    ),
    # «en la misma carpeta»: sin run_name=".", add_hparams escribe en una subcarpeta de log_dir.
    "hparams_en_subcarpeta": (
        {"train_with_tensorboard": [('writer.add_hparams(hparams, metrics, run_name=".")',
                                     "writer.add_hparams(hparams, metrics)")]},
        {"test_hiperparametros"},
    ),
    # «epoch = 1, 2, …, epochs»: las épocas desde 0, así que lo de cada época tiene el paso anterior.
    "epocas_desde_0": (
        {"train_with_tensorboard": [("for epoch in range(1, epochs + 1):", "for epoch in range(epochs):")]},
        {"test_metricas_validacion", "test_histogramas_lr"},
    ),
}

# Soluciones correctas escritas de otra forma: sacan el máximo.
ALTERNATIVES = {
    # Un bloque with para el writer, la suma de la validación acumulada en tensores y otro orden.
    "alternativa_with_y_tensores": (
        {"train_with_tensorboard": (
            "def train_with_tensorboard(model, train_loader, val_loader, loss_fn, optimizer, epochs, log_dir,\n"
            "                           hparams, device):\n"
            "    history = {\"train_loss\": [], \"valid_loss\": [], \"valid_accuracy\": []}\n"
            "    with SummaryWriter(log_dir=log_dir) as writer:\n"
            "        model = model.to(device)\n"
            "        images = next(iter(val_loader))[0]\n"
            "        writer.add_image(\"Images/valid\", make_grid(images[:64], normalize=True), global_step=0)\n"
            "        step = 0\n"
            "        for epoch in range(1, epochs + 1):\n"
            "            model.train()\n"
            "            for x, y in train_loader:\n"
            "                loss = loss_fn(model(x.to(device)), y.to(device))\n"
            "                optimizer.zero_grad()\n"
            "                loss.backward()\n"
            "                optimizer.step()\n"
            "                value = loss.item()\n"
            "                writer.add_scalar(\"Loss/train\", value, step)\n"
            "                history[\"train_loss\"].append(value)\n"
            "                step += 1\n"
            "            model.eval()\n"
            "            with torch.no_grad():\n"
            "                total = torch.zeros((), device=device)\n"
            "                hits = torch.zeros((), device=device)\n"
            "                seen = 0\n"
            "                for x, y in val_loader:\n"
            "                    x, y = x.to(device), y.to(device)\n"
            "                    logits = model(x)\n"
            "                    total += loss_fn(logits, y) * y.numel()\n"
            "                    hits += (logits.argmax(1) == y).sum()\n"
            "                    seen += y.numel()\n"
            "            history[\"valid_loss\"].append(total.item() / seen)\n"
            "            history[\"valid_accuracy\"].append(hits.item() / seen)\n"
            "            for name, param in model.named_parameters():\n"
            "                writer.add_histogram(f\"Parameters/{name}\", param, epoch)\n"
            "            writer.add_scalar(\"LearningRate\", optimizer.param_groups[0][\"lr\"], epoch)\n"
            "            writer.add_scalar(\"Accuracy/valid\", history[\"valid_accuracy\"][-1], epoch)\n"
            "            writer.add_scalar(\"Loss/valid\", history[\"valid_loss\"][-1], epoch)\n"
            "        writer.add_hparams(dict(hparams), {\"hparam/accuracy_valid\": history[\"valid_accuracy\"][-1],\n"
            "                                           \"hparam/loss_valid\": history[\"valid_loss\"][-1]}, run_name=\".\")\n"
            "    return history\n")},
        set(),
    ),
}

# Una función que registra todo lo que pide el enunciado (etiquetas, pasos, imagen, metaparámetros,
# writer cerrado) con valores inventados, sin entrenar.
FAKE_TRAINING = '''
from torch.utils.tensorboard import SummaryWriter
from torchvision.utils import make_grid

def _sin_entrenar(model, train_loader, val_loader, loss_fn, optimizer, epochs, log_dir, hparams, device):
    history = {"train_loss": [], "valid_loss": [], "valid_accuracy": []}
    with SummaryWriter(log_dir=str(log_dir)) as writer:
        images, _ = next(iter(val_loader))
        writer.add_image("Images/valid", make_grid(images[:64], normalize=True), 0)
        step = 0
        for epoch in range(1, epochs + 1):
            for _ in train_loader:
                history["train_loss"].append(2.3 / (1 + 0.05 * step))
                writer.add_scalar("Loss/train", history["train_loss"][-1], step)
                step += 1
            history["valid_loss"].append(1.0 / epoch)
            history["valid_accuracy"].append(0.5 + 0.1 * epoch)
            writer.add_scalar("Loss/valid", history["valid_loss"][-1], epoch)
            writer.add_scalar("Accuracy/valid", history["valid_accuracy"][-1], epoch)
            writer.add_scalar("LearningRate", optimizer.param_groups[0]["lr"], epoch)
            for name, param in model.named_parameters():
                writer.add_histogram(f"Parameters/{name}", param, epoch)
        writer.add_hparams(hparams, {"hparam/loss_valid": history["valid_loss"][-1],
                                     "hparam/accuracy_valid": history["valid_accuracy"][-1]}, run_name=".")
    return history
'''

# Entregas hostiles contra el juez: los puntos se deciden fuera del núcleo del alumno, con los datos de
# la sonda y sus propias referencias. Van fuera de BUGS (errores típicos); la clase de abajo califica
# las dos listas.
ATTACKS = {
    # Un gancho de IPython que, antes de cada celda, pone una función que lo registra todo sin entrenar:
    # conserva lo que no depende del entrenamiento (la imagen y el writer cerrado) y pierde el resto.
    "ataque_gancho": (
        {BLANK: True, ADDED_CELLS: [FAKE_TRAINING + (
            "\ndef _resuelve(*args):\n"
            "    get_ipython().user_ns['train_with_tensorboard'] = _sin_entrenar\n\n"
            "get_ipython().events.register('pre_run_cell', _resuelve)\n")]},
        ALL - {"test_imagen_validacion", "test_writer_cerrado"},
    ),
    # La sonda sustituida: no llega ningún dato al juez.
    "ataque_sonda": (
        {BLANK: True, ADDED_CELLS: ["import curso_pytorch.probe as p\np.record = lambda key, value: None\n"]},
        ALL,
    ),
    # Un ayudante del curso sustituido: la sonda entrena la solución correcta con otros datos (imágenes en
    # blanco). Los datos ya no son los de la referencia del juez; solo queda el writer cerrado.
    "ataque_datos": (
        {ADDED_CELLS: ["import torch\nimport curso_pytorch.data as d\n_load = d.load_mnist\n"
                       "d.load_mnist = lambda *a, **k: (lambda x, y: (torch.zeros_like(x), y))(*_load(*a, **k))\n"]},
        ALL - {"test_writer_cerrado"},
    ),
    # Código oculto en base64: las pruebas que vienen detrás no puntúan (revisión a mano).
    "ataque_base64": (
        {BLANK: True, ADDED_CELLS: [BASE64_CELL]},
        ALL,
    ),
}


class TestLab07Tensorboard(LabGradingTests):
    LAB = LAB
    TOTAL = 10
    BUGS = {**BUGS, **STATEMENT_BUGS, **ALTERNATIVES, **ATTACKS}
    JUDGE_NAMES = ("tb_reference", "REF[")

    def test_fake_training_loses_against_the_reference(self, scores, grading_root):
        """Lo registrado sin entrenar no coincide con la referencia del juez."""
        errors = cell_errors(grading_root, LAB, "ataque_gancho")
        assert any("frente a la referencia" in r for r in errors["test_perdida_entrenamiento"]), errors
        assert any("tras entrenarla" in r for r in errors["test_histogramas_lr"]), errors
