"""The CPU's matrix units, measured: each dtype's matrix-multiply limit, and each prediction path's
share of the limit of the dtype it computes in.

Prints the CPU flags that matter, then, for the parts asked for (default: all), markdown tables:

* ``limits`` (always measured): torch matmul 2048x2048 in float32, bfloat16 and int8
  (``torch._int_mm``, int32 accumulate), GFLOP/s (GOP/s), and whether the CPU has native units for
  each. A dtype without them (bf16 without AMX or AVX512-BF16, int8 without VNNI or AMX) is timed
  on 512x512, and bf16 paths on ``--sample`` statements, labelled, so that the run still ends;
* ``encoders``: for the packaged MiniLM and all-mpnet-base-v2, statements/s over N distinct
  statements (default 3,000): sentence-transformers ``encode`` (batch 32) in fp32 and in bf16
  (the reference) and the lean ONNX encoder in each of ``inference.PRECISIONS``; each path's share
  of its dtype's limit (FLOPs: ``lean.encoder_flops``), its speed against the bf16 reference, and
  the min and mean cosine of its vectors to sentence-transformers' fp32 vectors;
* ``model``: the champion's whole model, ``stance predict -i FILE -o out.csv --precision P`` in a
  new process (load included) for each precision and auto, against the bf16 and fp32 ``encode``
  of its encoder, with the labels that differ from fp32;
* ``cold``: ``stance predict "<one statement>"`` in a new process, ``--repeats`` runs for each of
  ``--precision`` auto, fp32 and w8: median, min and max seconds and peak memory (max RSS);
* ``accuracy``: the champion's macro-F1 and labels changed against fp32 for each reduced
  precision, on the real dev set (figures only) and on the article statements.

The champion is ``--model`` in ``--tracking-uri`` (default: the main job's store, ``mlflow.db`` in the
project root; commands run in the store's folder, as its artefact paths are relative), or, with ``--train``, the model
``benchmarks/lean.py`` trains, in a temporary store (a fresh clone needs nothing else).

Run from the project root:  python benchmarks/matrix_units.py [--parts limits,encoders,model,cold,accuracy]
    [--n 3000] [--sample 32] [--repeats 7] [--train | --tracking-uri URI --model URI] [--save FILE]
"""

from __future__ import annotations

import argparse
import atexit
import copy
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import lean  # benchmarks/lean.py: encoder_flops, matmul_gflops, PROBE, setup
from predict import make_statements, timed  # benchmarks/predict.py: the same statements, the same clock

ROOT = Path(__file__).resolve().parents[1]
STORE = f"sqlite:///{ROOT}/mlflow.db"  # where the README's main command leaves its champion
CHAMPION = "models:/stance-foreign-troops@champion"
MPNET = "packaged:all-mpnet-base-v2"
ENCODERS = {"all-MiniLM-L6-v2": "packaged:all-MiniLM-L6-v2", "all-mpnet-base-v2": MPNET}
DEV = ROOT.parent / "shared/data/foreign-troops-dev/statements.jsonl"
GOLD = ROOT / "annotations/gold.jsonl"
FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")
#: Flags that give a dtype native matrix units; the dtype each precision computes in.
NATIVE = {"fp32": ("avx2", "avx512f"), "bf16": ("amx_bf16", "avx512_bf16"),
          "int8": ("amx_int8", "avx512_vnni", "avx_vnni")}
#: w8 runs MatMulNBits at accuracy level 4: its products are int8 too (stance.serving.onnx.export.W8_ACCURACY).
DTYPE = {"fp32": "fp32", "w8": "int8", "int8": "int8", "bf16": "bf16"}
PARTS = ("limits", "encoders", "model", "cold", "accuracy")
TORCH_DTYPE = {"fp32": "float32", "bf16": "bfloat16", "int8": "int8"}


def md(*cells) -> None:
    print("| " + " | ".join(str(c) for c in cells) + " |", flush=True)


def header(*names: str) -> None:
    print()
    md(*names)
    print("|" + "|".join(["---"] + ["---:"] * (len(names) - 1)) + "|", flush=True)


def share(rate: float, limit: float) -> str:
    return f"{100 * rate / limit:.0f}%" if limit else "-"


def cpu_flags() -> tuple[str, set[str]]:
    """The CPU's model name and flags, from /proc/cpuinfo (empty where there is none)."""
    info = {}
    try:
        for key, _, value in (line.partition(":") for line in Path("/proc/cpuinfo").read_text().splitlines()):
            info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return info.get("model name", "unknown CPU"), set(info.get("flags", "").split())


# ----------------------------------------------------------------------------- limits
@dataclass
class Limit:
    gflops: float  # 0 when the dtype is not supported
    size: int
    native: bool
    slow: bool  # no native units, or far below fp32: its paths run on a sample
    note: str

    def statements(self, flops: float) -> float:
        """The most statements a second this dtype allows for ``flops`` a statement."""
        return self.gflops * 1e9 / flops if self.gflops else 0.0


def matmul_rate(dtype: str, size: int, repeats: int) -> float:
    """Best GFLOP/s (GOP/s for int8) of a size x size torch matrix multiply over ``repeats`` runs."""
    import torch

    generator = torch.Generator().manual_seed(0)
    if dtype == "int8":
        a = torch.randint(-128, 128, (size, size), dtype=torch.int8, generator=generator)
        run = lambda: torch._int_mm(a, a)  # int32 accumulate
    else:
        a = torch.rand((size, size), generator=generator).to(getattr(torch, TORCH_DTYPE[dtype]))
        run = lambda: a @ a
    run()
    return max(2 * size**3 / timed(run)[1] / 1e9 for _ in range(repeats))


def onnx_int8_rate(size: int, repeats: int) -> float:
    """Best GOP/s of ONNX Runtime's own int8 matrix multiply (``MatMulInteger``, uint8 x int8 -> int32,
    the kernel the lean path's int8 copies use), size x size, on the same threads."""
    import numpy as np
    import onnxruntime as ort
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "b"], ["c"])], "int8",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [size, size]),
         helper.make_tensor_value_info("b", TensorProto.INT8, [size, size])],
        [helper.make_tensor_value_info("c", TensorProto.INT32, [size, size])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = len(os.sched_getaffinity(0))
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feed = {"a": rng.integers(0, 256, (size, size), dtype=np.uint8),
            "b": rng.integers(-128, 128, (size, size), dtype=np.int8)}
    run = lambda: session.run(None, feed)
    run()
    return max(2 * size**3 / timed(run)[1] / 1e9 for _ in range(repeats))


def limits(flags: set[str]) -> dict[str, Limit]:
    import torch

    print(f"\n## Matrix-multiply limits: torch {torch.__version__}, {torch.get_num_threads()} threads")
    header("dtype", "GFLOP/s (int8: GOP/s)", "matrix", "native units here", "note")
    out = {"fp32": Limit(matmul_rate("fp32", 2048, 5), 2048, any(f in flags for f in NATIVE["fp32"]), False, "")}
    md("float32", f"{out['fp32'].gflops:.0f}", "2048x2048", "yes" if out["fp32"].native else "no", "best of 5")
    for key in ("bf16", "int8"):
        native = any(f in flags for f in NATIVE[key])
        try:
            probe = matmul_rate(key, 512, 1)
        except (RuntimeError, NotImplementedError) as exc:
            out[key] = Limit(0.0, 0, native, True, f"not supported: {str(exc).splitlines()[0][:80]}")
            md(TORCH_DTYPE[key], "-", "-", "yes" if native else "no", out[key].note)
            continue
        if not native or probe < out["fp32"].gflops / 2:
            note = ("slower than float32 here" if native else f"emulated: no {key} units" if key == "bf16"
                    else "no int8 dot-product units (VNNI, AMX): ONNX Runtime's own int8 kernels may pass it")
            out[key] = Limit(max(probe, matmul_rate(key, 512, 2)), 512, native, True,
                             note + ("; its paths run on --sample statements" if key == "bf16" else ""))
        else:
            out[key] = Limit(matmul_rate(key, 2048, 5), 2048, native, False, "best of 5")
        md(TORCH_DTYPE[key] + (" (torch._int_mm)" if key == "int8" else ""), f"{out[key].gflops:.1f}",
           f"{out[key].size}x{out[key].size}", "yes" if native else "no", out[key].note)
    runtime = onnx_int8_rate(2048, 5)
    md("int8, ONNX Runtime MatMulInteger", f"{runtime:.0f}", "2048x2048", "-",
       "best of 5; the int8 limit below is the higher of the two int8 rates")
    if runtime > out["int8"].gflops:
        out["int8"] = Limit(runtime, 2048, out["int8"].native, False, "ONNX Runtime MatMulInteger")
    md("float32, numpy (lean.py's limit)", f"{lean.matmul_gflops(0):.0f}", "2048x2048", "-", "best of 5")
    return out


# ----------------------------------------------------------------------------- encoders
WARM_UP = ["A warm-up statement.", "Another one, a little longer than the first."]


def distinct_statements(n: int) -> list[str]:
    """N distinct statements (the lean encoder encodes a repeated text once: each must count)."""
    m = n
    while True:
        texts = list(dict.fromkeys(make_statements(m)))
        if len(texts) >= n:
            return texts[:n]
        m *= 2


def cosines(a, b):
    import numpy as np

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def encoder_paths(name: str, pretrained: str, texts: list[str], sample: int, lim: dict[str, Limit], cache: Path,
                  threads: int) -> dict[str, float]:
    """One encoder's table; returns the statements/s of its fp32 and bf16 ``encode`` (the references)."""
    import torch

    from stance.models.encoders import sentence_encoder
    from stance.serving.onnx.export import encoder_folder
    from stance.serving.onnx.inference import PRECISIONS, OnnxEncoder

    print(f"\n### {name} ({pretrained})\n", flush=True)
    folder, seconds = timed(encoder_folder, pretrained, cache)
    part = texts[:sample] if lim["bf16"].slow else texts
    flops = {len(texts): lean.encoder_flops(folder, pretrained, texts) / len(texts),
             len(part): lean.encoder_flops(folder, pretrained, part) / len(part)}
    print(f"exported to ONNX in {seconds:.0f} s; {flops[len(texts)] / 1e9:.2f} GFLOP a statement over "
          f"{len(texts)} statements; limits: " + ", ".join(f"{k} {v.statements(flops[len(texts)]):.0f}"
                                                          for k, v in lim.items()) + " statements/s", flush=True)
    st = sentence_encoder(pretrained, "cpu")
    torch.set_num_threads(threads)  # loading sets every core
    options = {"batch_size": 32, "convert_to_numpy": True, "show_progress_bar": False}
    with torch.inference_mode():
        st.encode(WARM_UP, **options)
        reference, seconds = timed(st.encode, texts, **options)
        rows, rates = [("sentence-transformers encode fp32, batch 32", "fp32", len(texts), seconds, None)], {}
        if lim["bf16"].gflops:
            half = copy.deepcopy(st).to(torch.bfloat16)  # a copy: the cached fp32 encoder stays exact
            half.encode(WARM_UP[:1], **options)
            vectors, seconds = timed(half.encode, part, **options)
            emulated = f", {lim['bf16'].note.split(';')[0]}" if lim["bf16"].slow else ""
            rows.append((f"sentence-transformers encode bf16, batch 32 (reference){emulated}", "bf16", len(part),
                         seconds, cosines(vectors, reference[: len(part)])))
            rates["bf16"] = len(part) / seconds
            del half
    rates["fp32"] = rows[0][2] / rows[0][3]
    for precision in PRECISIONS:
        encoder = OnnxEncoder(folder, precision, threads)
        if encoder.precision == precision:  # else: no such copy (the encoder says so and runs fp32)
            encoder.encode(WARM_UP)
            vectors, seconds = timed(encoder.encode, texts)
            rows.append((f"lean ONNX encoder {precision} (OnnxEncoder)", precision, len(texts), seconds,
                         cosines(vectors, reference)))
    header("path", "arithmetic", "statements", "statements/s", "limit, statements/s", "% of the limit",
           "x bf16 encode", "min cosine to fp32", "mean cosine")
    for path, precision, n, seconds, cos in rows:
        rate, limit = n / seconds, lim[DTYPE.get(precision, "fp32")].statements(flops[n])
        cells = ("-", "-") if cos is None else (f"{cos.min():.5f}", f"{cos.mean():.5f}")
        md(path, DTYPE.get(precision, "fp32"), n, f"{rate:.1f}", f"{limit:.3g}", share(rate, limit),
           f"{rate / rates['bf16']:.2f}" if "bf16" in rates else "-", *cells)
    return rates


# ----------------------------------------------------------------------------- the champion
@dataclass
class Champion:
    uri: str
    model_uri: str
    cwd: Path
    folder: Path  # its lean artefact
    spec: dict
    backbone: str  # the encoder its bf16 reference is measured with

    def runs_as(self, precision: str) -> str:
        """The copy that runs for ``precision``: fp32 where an encoder has no such copy (as LeanModel does)."""
        from stance.serving.onnx.inference import holds_copy

        return precision if holds_copy(self.folder, self.spec["encoders"], precision) else "fp32"

    def encoder_info(self, name: str) -> dict:
        return json.loads((self.folder / name / "encoder.json").read_text())

    def command(self, *arguments: str) -> list[str]:
        stance = str(Path(sys.executable).with_name("stance"))
        return [stance, "predict", "-m", self.model_uri, "--tracking-uri", self.uri, *map(str, arguments)]


def champion(args, home: Path) -> Champion:
    from stance.serving.onnx.cache import artefact_dir
    from stance.serving.onnx.lookup import resolve_ref
    from stance.serving.predict import load

    if args.train:
        uri, model_uri = lean.setup(home)
        cwd = home
    else:
        uri, model_uri = args.tracking_uri, args.model
        path = Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None
        if path is not None and not path.is_file():
            raise SystemExit(f"no MLflow store at {path}: pass --tracking-uri, or --train to train one")
        cwd = path.parent if path is not None else Path.cwd()
    os.chdir(cwd)  # a store's artefacts may be relative to its folder
    _, seconds = timed(load, model_uri, uri, True, "fp32")  # builds the lean artefact if needed
    folder = artefact_dir(resolve_ref(model_uri, uri))
    spec = json.loads((folder / "spec.json").read_text())
    model = Champion(uri, model_uri, cwd, folder, spec, args.encoder)
    for info in map(model.encoder_info, spec["encoders"]):
        if info.get("kind") != "classifier":  # a frozen encoder names itself
            model.backbone = info.get("pretrained") or ENCODERS["all-MiniLM-L6-v2"]
    print(f"\nchampion {model_uri} in {uri}: lean artefact {folder.name} ({', '.join(spec['encoders'])}) "
          f"loaded in {seconds:.1f} s; its encoder: {model.backbone}", flush=True)
    return model


def model_flops(model: Champion, texts: list[str]) -> float:
    """FLOPs a statement for the champion's encoders (a fine-tuned one reads the text with the target)."""
    total, target = 0.0, model.spec["default_target"]
    for name in model.spec["encoders"]:
        info = model.encoder_info(name)
        if info.get("kind") == "classifier":  # the pair as one string: 2 separator tokens fewer
            total += lean.encoder_flops(model.folder / name, model.backbone, [f"{t} {target}" for t in texts])
        else:
            total += lean.encoder_flops(model.folder / name, info.get("pretrained"), texts)
    return total / len(texts)


def run(model: Champion, arguments: tuple, prefix: tuple = ()):
    """``stance predict ARGUMENTS`` (behind ``prefix``) in a new process, in the store's folder."""
    return subprocess.run([*prefix, *model.command(*arguments)], cwd=model.cwd, capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}, check=False)


def failure(proc) -> str:
    return "failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1][:100]


def whole_model(model: Champion, texts: list[str], lim: dict[str, Limit], refs: dict) -> None:
    from stance.serving.onnx.inference import PRECISIONS
    from stance.serving.precision import resolve

    flops = model_flops(model, texts)
    ref = refs.get(model.backbone, {})
    print(f"\n## The champion's whole model: stance predict -i FILE -o out.csv, {len(texts)} statements, "
          f"a new process each (load included)\n\n{flops / 1e9:.2f} GFLOP a statement; bf16 / fp32 encode of "
          f"{model.backbone}: " + (f"{ref['bf16']:.1f} / {ref['fp32']:.1f} statements/s" if len(ref) == 2
                                   else "not measured (add the encoders part)"), flush=True)
    header("--precision", "runs in", "statements/s", "seconds", "% of the limit", "x bf16 encode",
           "x fp32 encode", "labels differing from fp32")
    labels = {}
    with tempfile.TemporaryDirectory(prefix="stance-matrix-units-") as tmp:
        source = Path(tmp) / "statements.jsonl"
        source.write_text("".join(json.dumps({"id": f"s{k}", "text": t}) + "\n" for k, t in enumerate(texts)))
        measured = set()
        for precision in ("fp32", *[p for p in PRECISIONS if p != "fp32"], "auto"):
            ran = model.runs_as(resolve(precision, len(texts)))
            if ran in measured:  # e.g. int8 without an int8 copy, or auto on a batch: the same path again
                md(precision, ran, f"as {ran} above", *["-"] * 5)
                continue
            measured.add(ran)
            out = Path(tmp) / f"{precision}.csv"
            proc, seconds = timed(run, model, ("-i", source, "-o", out, "--precision", precision))
            if proc.returncode:
                md(precision, "-", failure(proc), *["-"] * 5)
                continue
            with out.open(newline="") as handle:
                labels[precision] = [row["label"] for row in csv.DictReader(handle)]
            rate, limit = len(texts) / seconds, lim[DTYPE[ran]].statements(flops)
            differ = sum(a != b for a, b in zip(labels[precision], labels.get("fp32", labels[precision])))
            md(precision, ran if DTYPE[ran] == ran else f"{ran} ({DTYPE[ran]} arithmetic)", f"{rate:.1f}",
               f"{seconds:.1f}", share(rate, limit), f"{rate / ref['bf16']:.2f}" if "bf16" in ref else "-",
               f"{rate / ref['fp32']:.2f}" if "fp32" in ref else "-", f"{differ} of {len(texts)}")


def cold(model: Champion, repeats: int) -> None:
    print(f'\n## Cold start: stance predict "<one statement>" in a new process ({model.model_uri})')
    header("--precision", "median s", "min s", "max s", "peak memory MB", "runs")
    for precision in ("auto", "fp32", "w8"):
        times, memory = [], []
        for _ in range(repeats):
            # an intermediate process: its children's peak RSS is the command's own (lean.py's PROBE)
            out = run(model, ("-f", "csv", "--precision", precision, lean.STATEMENT), (sys.executable, "-c", lean.PROBE))
            if out.returncode:
                break
            seconds, peak_kb = out.stdout.split()
            times.append(float(seconds))
            memory.append(int(peak_kb) / 1024)
        if not times:
            md(precision, failure(out), *["-"] * 4)
            continue
        md(precision, f"{statistics.median(times):.2f}", f"{min(times):.2f}", f"{max(times):.2f}",
           f"{max(memory):.0f}", len(times))


def accuracy(model: Champion, dev: Path) -> None:
    from stance.errors import StanceError
    from stance.evaluation.metrics import fold_metrics
    from stance.serving.onnx.inference import PRECISIONS
    from stance.serving.predict import classify, load

    print(f"\n## Accuracy of each reduced precision against fp32 ({model.model_uri})"
          + ("" if dev.is_file() else f"\n\n(dev set {dev} not found: skipped)"))
    header("statements", "--precision", "runs as", "macro-F1", "change vs fp32", "labels changed")
    sets = {f"real-text dev set ({dev.name}, evaluation only)": dev} if dev.is_file() else {}
    sets["article statements (annotations/gold.jsonl, usually in the champion's training data)"] = GOLD
    for name, path in sets.items():
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        rows = [{"id": str(r["id"]), "text": r["text"], "target": r.get("target")} for r in records]
        truth = [r["label"] for r in records]
        predicted = {}
        for precision in PRECISIONS:
            try:
                predicted[precision] = [r["label"] for r in classify(rows, model.model_uri, model.uri, progress=False,
                                                                     precision=precision)]
            except (StanceError, ValueError) as exc:
                md(f"{name}, {len(rows)}", precision, f"not supported: {str(exc).splitlines()[0][:80]}", *["-"] * 3)
                continue
            f1 = fold_metrics(truth, predicted[precision])["macro_f1"]
            base = fold_metrics(truth, predicted.get("fp32", predicted[precision]))["macro_f1"]
            changed = sum(a != b for a, b in zip(predicted[precision], predicted.get("fp32", predicted[precision])))
            md(f"{name}, {len(rows)}", precision, load(model.model_uri, model.uri, True, precision).how, f"{f1:.4f}",
               f"{f1 - base:+.4f}", f"{changed} of {len(rows)}")


# ----------------------------------------------------------------------------- main
class Tee(list):
    """Standard output, also kept (what was printed, for ``--save``)."""

    def write(self, text: str) -> int:
        self.append(text)
        return sys.__stdout__.write(text)

    def flush(self) -> None:
        sys.__stdout__.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--n", type=int, default=3000, help="distinct statements for the throughput parts")
    parser.add_argument("--sample", type=int, default=32, help="statements for paths in a dtype without native units")
    parser.add_argument("--repeats", type=int, default=7, help="cold starts to time per precision")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--tracking-uri", default=STORE)
    parser.add_argument("--model", default=CHAMPION)
    parser.add_argument("--train", action="store_true", help="train the champion of lean.py in a temporary store")
    parser.add_argument("--encoder", default=MPNET, help="the backbone of a fine-tuned champion (its bf16 reference)")
    parser.add_argument("--dev", type=Path, default=DEV, help="the real-text dev set (figures only)")
    parser.add_argument("--save", type=Path, help="also write the output to this markdown file")
    args = parser.parse_args()
    args.dev, args.save = args.dev.resolve(), args.save.resolve() if args.save else None  # before any chdir
    parts = set(args.parts.split(","))
    if parts - set(PARTS):
        parser.error(f"unknown parts: {', '.join(sorted(parts - set(PARTS)))} (known: {', '.join(PARTS)})")
    for name, value in (("HF_HUB_OFFLINE", "1"), ("HF_HUB_DISABLE_PROGRESS_BARS", "1"),
                        ("TOKENIZERS_PARALLELISM", "false"), ("TRANSFORMERS_VERBOSITY", "error")):
        os.environ.setdefault(name, value)
    if args.save:
        sys.stdout = Tee()
    import logging

    import torch

    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    home = Path(tempfile.mkdtemp(prefix="stance-matrix-units-"))
    atexit.register(shutil.rmtree, home, True)  # exported encoders (and, with --train, the store)
    if args.train:
        os.environ["STANCE_LEAN_CACHE"] = str(home / "lean")
    model_name, flags = cpu_flags()
    print(f"## CPU: {model_name}, {os.cpu_count()} cores, {args.threads} threads")
    header(*FLAGS)
    md(*("yes" if f in flags else "no" for f in FLAGS))
    lim = limits(flags)
    texts = distinct_statements(args.n) if parts & {"encoders", "model"} else []
    refs = {}
    if "encoders" in parts:
        print(f"\n## Sentence encoders: {len(texts)} distinct statements"
              + (f" ({args.sample} for bf16: {lim['bf16'].note.split(';')[0]})" if lim["bf16"].slow else ""))
        for name, pretrained in ENCODERS.items():
            refs[pretrained] = encoder_paths(name, pretrained, texts, args.sample, lim, home, args.threads)
    if parts & {"model", "cold", "accuracy"}:
        model = champion(args, home)
        if "model" in parts:
            whole_model(model, texts, lim, refs)
        if "cold" in parts:
            cold(model, args.repeats)
        if "accuracy" in parts:
            accuracy(model, args.dev)
    if args.save:
        from stance.io import atomic_write_text

        command = " ".join(["python benchmarks/matrix_units.py", *sys.argv[1:]])
        atomic_write_text(args.save, f"# benchmarks/matrix_units.py on {model_name}\n\n"
                          f"{time.strftime('%Y-%m-%d')}, `{command}`; output as printed:\n\n"
                          + "".join(sys.stdout))


if __name__ == "__main__":
    main()
