"""Laboratorio 07: la referencia saca el máximo, la copia en blanco 0 y cada error típico
pierde exactamente los puntos de su parte (las pruebas ocultas leen los archivos de eventos)."""

from tests.grading import LabGradingTests

LAB = "07_tensorboard"

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
    # add_hparams sin métricas: la tabla de hiperparámetros no tiene nada que comparar.
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


class TestLab07Tensorboard(LabGradingTests):
    LAB = LAB
    TOTAL = 10
    BUGS = BUGS
