"""Which copy of a model's ONNX graphs the lean path runs, and how ``auto`` chooses one.

Each exported graph comes in up to three copies (:mod:`stance.serving.onnx.export`):

* ``fp32``: the weights and the arithmetic in float32; the reference.
* ``w8``: the weights of every matrix multiply stored in 8 bits and the embedding tables in 4
  (blocks of 32 with their own scale), the products summed in int32 (``MatMulNBits`` at accuracy
  level 4: VNNI/AMX kernels where the CPU has them). About a quarter of the bytes to read and to
  hold, so a new process starts in half the time and memory. Its labels are measured against
  fp32 for every champion (the main job prints it; ``benchmarks/matrix_units.py``); on a CPU
  without VNNI, batches run slower than fp32.
* ``int8``: dynamic int8 quantization (weights and activations in int8, per channel). Sentence
  encoders only (it changed a fine-tuned classifier's labels), and only where it passed the
  check after export (:mod:`stance.serving.onnx.copies`).

``auto`` (the default of ``stance predict``) takes ``w8`` for a few statements, where loading the
model is most of the time, and ``fp32`` for batches. It never picks ``int8``: that copy's labels
may differ, so it is for a user to choose after measuring it on their CPU.
"""

from __future__ import annotations

from stance.errors import StanceError

#: The copies an artefact may hold, in the order they are described above.
PRECISIONS = ("fp32", "w8", "int8")
CHOICES = ("auto", *PRECISIONS)
#: Up to this many statements, ``auto`` loads the 8-bit weights (the start dominates the time).
SMALL_INPUT = 64


def resolve(precision: str, statements: int | None = None) -> str:
    """The copy to run for ``precision`` when ``statements`` are to be scored (None: unknown, e.g. a server).

    Parameters
    ----------
    precision : {"auto", "fp32", "w8", "int8"}
        What the user asked for.
    statements : int or None, default=None
        How many statements the model will score in this process; None when not known in advance.

    Returns
    -------
    str
        One of :data:`PRECISIONS`.

    Raises
    ------
    stance.errors.StanceError
        An unknown precision.
    """
    if precision not in CHOICES:
        raise StanceError(f"unknown precision '{precision}' (one of {', '.join(CHOICES)})")
    if precision != "auto":
        return precision
    return "w8" if statements is not None and statements <= SMALL_INPUT else "fp32"
