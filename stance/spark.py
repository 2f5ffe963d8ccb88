"""Score a CSV or Parquet file of statements on Spark, writing Parquet: ``stance predict --spark``.

The driver resolves the model to its lean artefact (:mod:`stance.lean`, built once per model
version and checked against the store) and ships the folder to the executors with
``SparkContext.addFile``; ``mapInPandas`` scores each partition with a ``LeanModel`` loaded once
per Python worker (numpy, onnxruntime, tokenizers: no MLflow on executors). ``engine="pyfunc"``
scores through ``mlflow.pyfunc.spark_udf`` (MLflow and the model's libraries on every executor),
as does, with a notice, a model family without a lean form. Output: any ``id`` column of the
input, then ``text, target, label, confidence, p_support, p_oppose, p_neutral`` (the values of
:func:`stance.predict.classify`) in input order, blank statements skipped and counted, written to
a hidden ``.OUTPUT.tmp-*`` folder beside OUTPUT and renamed into place.

Usage (INPUT: .csv, .tsv, .parquet or a folder of Parquet; the master defaults to local[2])::

    python -m stance.spark INPUT OUTPUT [-m URI] [--tracking-uri URI] [--master local[4]]
        [--engine lean|pyfunc] [--partitions N] [--text-column C] [--target T] [--int8] [--force]

On a cluster, give this file to ``spark-submit``, which sets the master. Executors need a
Python with this package: at the driver's path (``PYSPARK_PYTHON``, default ``sys.executable``)
or a packed virtual environment::

    spark-submit --master yarn --archives env.tar.gz#env --conf spark.pyspark.python=./env/bin/python \
        "$(python -c 'import stance.spark as s; print(s.__file__)')" \
        hdfs:///data/statements.parquet hdfs:///data/predictions.parquet --tracking-uri http://mlflow:5000
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

from stance.config import CHAMPION_URI, default_tracking_uri, resolve_uri, sqlite_path
from stance.errors import StanceError
from stance.labels import LABELS

log = logging.getLogger(__name__)

DEFAULT_MASTER = "local[2]"
ENGINES = ("lean", "pyfunc")
#: The faster engine on the measured machine (benchmarks/results/spark-cpu.md).
DEFAULT_ENGINE = "lean"
FORMATS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}
PROBA = [f"p_{label}" for label in LABELS]
LOG4J = """rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = spark %p %c{1}: %m%n
"""
#: Lean models loaded in this Python worker, by artefact name and precision.
_MODELS: dict[tuple[str, str], Any] = {}


def _remote(path: str) -> bool:
    """A Hadoop URI (hdfs://, s3a://, ...) rather than a path on this machine."""
    return "://" in path and not path.startswith("file:")


def format_of(path: str, fmt: str | None = None) -> str:
    """csv, tsv or parquet: ``fmt`` if given, else the suffix (a suffix-less folder is Parquet)."""
    if fmt is not None:
        if fmt not in ("csv", "tsv", "parquet"):
            raise StanceError(f"Spark reads csv, tsv or parquet, not '{fmt}'")
        return fmt
    suffix = PurePosixPath(path.rstrip("/")).suffix.lower()
    if suffix in FORMATS:
        return FORMATS[suffix]
    if not suffix and not _remote(path) and Path(path).is_dir():
        return "parquet"
    raise StanceError(f"unknown input format '{suffix or 'no suffix'}' (.csv, .tsv, .parquet or a folder of "
                      "Parquet; or give the format)", path=path)


def _local_columns(path: Path, fmt: str) -> list[str] | None:
    """The columns of a local input, read cheaply (None when only Spark can tell)."""
    if fmt == "parquet":
        import pyarrow.dataset

        try:
            return pyarrow.dataset.dataset(str(path), format="parquet").schema.names
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds for a bad file
            raise StanceError(f"not readable as Parquet ({str(exc).splitlines()[0][:200]})", path=path) from None
    if path.is_dir():
        return None
    import csv

    with path.open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle, delimiter="\t" if fmt == "tsv" else ","), None)
    if not header:
        raise StanceError("empty input: no header line", path=path)
    return header


def _missing_column(column: str, columns: list[str], path: str) -> StanceError:
    return StanceError(f"missing column '{column}' (columns: {', '.join(columns) or 'none'})", path=path)


def _require_java() -> None:
    home = os.environ.get("JAVA_HOME")
    if not (home and (Path(home) / "bin" / "java").is_file()) and shutil.which("java") is None:
        raise StanceError("Spark needs Java 17 or later: no 'java' on PATH and no JAVA_HOME (install a JDK)")


def _submitted() -> bool:
    """Running under spark-submit (which started the JVM and set the master) or in a live session."""
    from pyspark import SparkContext

    return "PYSPARK_GATEWAY_PORT" in os.environ or SparkContext._active_spark_context is not None


def session(master: str | None = None, app_name: str = "stance-predict"):
    """The active SparkSession, else a new one on ``master`` (default local[2]), quiet and local-only."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise StanceError("Spark scoring needs pyspark: pip install pyspark") from None
    import warnings

    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    if _submitted():
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        spark = SparkSession.builder.appName(app_name).getOrCreate()
        spark.sparkContext.setLogLevel("WARN")
        return spark
    _require_java()
    from stance.io import atomic_write_text, cache_dir

    master = master or DEFAULT_MASTER
    config = cache_dir() / "spark-log4j2.properties"
    atomic_write_text(config, LOG4J)
    os.environ["PYSPARK_PYTHON"] = sys.executable if master.startswith("local") else \
        os.environ.get("PYSPARK_PYTHON", sys.executable)
    builder = (SparkSession.builder.master(master).appName(app_name).config("spark.ui.enabled", "false")
               .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={config.as_uri()}")
               .config("spark.executorEnv.PYTHONWARNINGS", "ignore::FutureWarning"))
    if master.startswith("local"):
        os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
        builder = builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
    return builder.getOrCreate()


# --------------------------------------------------------------------------- the model
def lean_folder(model_uri: str, tracking_uri: str, precision: str = "fp32") -> tuple[Path | None, str | None]:
    """``(artefact folder, None)``, built if need be; ``(None, why)`` when the model goes through MLflow."""
    from stance.lean.cache import artefact_dir, build, check
    from stance.lean.lookup import resolve_ref

    store = sqlite_path(tracking_uri)
    if store is not None and not store.is_file():
        raise StanceError(f"no MLflow store at {store} (point --tracking-uri or MLFLOW_TRACKING_URI at one)")
    ref = resolve_ref(model_uri, tracking_uri)
    if ref is None:
        return None, f"{model_uri} cannot be resolved without MLflow in this store"
    folder = artefact_dir(ref)
    manifest, _ = check(folder, ref, precision)
    if manifest is None:
        try:
            manifest, _ = build(ref, folder)
        except OSError as exc:
            return None, f"cannot write the lean artefact ({exc.strerror or exc})"
    if not manifest.get("exportable", True):
        return None, manifest.get("reason", "no lean export")
    return folder, None


def _worker_model(name: str, precision: str):
    """The lean model shipped as ``name``, loaded once per Python worker (one thread per task CPU)."""
    key = (name, precision)
    if key not in _MODELS:
        from pyspark import SparkFiles, TaskContext

        from stance.lean.runtime import LeanModel

        context = TaskContext.get()
        _MODELS[key] = LeanModel(SparkFiles.get(name), precision, context.cpus() if context else 1)
    return _MODELS[key]


def _score_partition(batches: Iterator, name: str, precision: str, keep_id: bool) -> Iterator:
    """mapInPandas: (id,) text, target in; the prediction columns out (classify's arithmetic)."""
    import numpy as np
    import pandas as pd

    from stance.predict import _by_label

    model = _worker_model(name, precision)
    for frame in batches:
        targets = [t if isinstance(t, str) else None for t in frame["target"].tolist()]
        proba = _by_label(model.predict_proba(frame["text"].tolist(), targets), model.classes_)
        best = proba.argmax(axis=1)
        out = pd.DataFrame({"text": frame["text"].to_numpy(dtype=object), "target": np.array(targets, dtype=object),
                            "label": np.array(LABELS, dtype=object)[best],
                            "confidence": proba[np.arange(len(best)), best],
                            **{column: proba[:, k] for k, column in enumerate(PROBA)}})
        if keep_id:
            out.insert(0, "id", frame["id"].to_numpy())
        yield out


def _pyfunc_scored(spark, frame, model_uri: str, tracking_uri: str):
    """The prediction columns through ``mlflow.pyfunc.spark_udf`` (MLflow on every executor)."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from pyspark.sql import functions as F

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    result = ", ".join(["label string", *(f"{label} double" for label in LABELS)])
    try:
        udf = mlflow.pyfunc.spark_udf(spark, model_uri, result_type=result, env_manager="local")
    except (MlflowException, OSError) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise StanceError(f"cannot load model '{model_uri}' ({reason})") from None
    scored = frame.withColumn("_p", udf(F.struct("text", "target")))
    proba = [F.col(f"_p.{label}").alias(f"p_{label}") for label in LABELS]
    keep = [c for c in ("id", "text", "target") if c in frame.columns]
    return scored.select(*keep, F.col("_p.label").alias("label"),
                         F.greatest(*(F.col(f"_p.{label}") for label in LABELS)).alias("confidence"), *proba)


# --------------------------------------------------------------------------- input and output
def _read(spark, path: str, fmt: str, text_column: str, target_column: str, target: str | None):
    """Input rows as (id,) text, target (the default filled in), with counts of all and blank rows."""
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F

    try:
        if fmt == "parquet":
            frame = spark.read.parquet(path)
        else:
            frame = spark.read.csv(path, header=True, multiLine=True, escape='"', sep="\t" if fmt == "tsv" else ",")
    except AnalysisException as exc:
        missing = "PATH_NOT_FOUND" in str(exc) or "does not exist" in str(exc)
        reason = "input not found" if missing else f"cannot read the input ({str(exc).splitlines()[0][:200]})"
        raise StanceError(reason, path=path) from None
    if text_column not in frame.columns:
        raise _missing_column(text_column, frame.columns, path)
    given = F.col(target_column).cast("string") if target_column in frame.columns else F.lit(None).cast("string")
    default = F.lit(target).cast("string")
    columns = [F.col("id")] if "id" in frame.columns else []
    frame = frame.select(*columns, F.col(text_column).cast("string").alias("text"),
                         F.when(F.trim(given) != "", given).otherwise(default).alias("target"))
    blank = F.col("text").isNull() | (F.trim(F.col("text")) == "")
    counts = frame.agg(F.count(F.lit(1)).alias("rows"), F.count(F.when(blank, 1)).alias("blank")).first()
    if counts["rows"] == 0:
        raise StanceError("empty input: no rows", path=path)
    if counts["rows"] == counts["blank"]:
        raise StanceError(f"no statements to classify ({counts['blank']} blank)", path=path)
    return frame.where(~blank), counts["rows"] - counts["blank"], counts["blank"]


def _spread(spark, frame, partitions: int | None):
    """At least one partition per core (or ``partitions``), as contiguous ranges of the input order."""
    from pyspark.sql import functions as F

    current = frame.rdd.getNumPartitions()
    wanted = partitions or max(current, spark.sparkContext.defaultParallelism)
    if wanted == current:
        return frame, current
    ranged = (frame.withColumn("_row", F.monotonically_increasing_id()).repartitionByRange(wanted, "_row")
              .sortWithinPartitions("_row").drop("_row"))
    return ranged, wanted


def _write_atomically(spark, frame, output: str, force: bool) -> None:
    """Parquet into a hidden folder beside ``output``, renamed into place; nothing half-written stays."""
    jvm = spark.sparkContext._jvm
    HPath = jvm.org.apache.hadoop.fs.Path
    target = HPath(output)
    fs = target.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    target = fs.makeQualified(target)
    if fs.exists(target) and not force:
        raise StanceError("the output exists: add --force to replace it", path=output)
    tag = uuid.uuid4().hex[:12]
    scratch = HPath(target.getParent(), f".{target.getName()}.tmp-{tag}")
    old = HPath(target.getParent(), f".{target.getName()}.old-{tag}")
    try:
        frame.write.parquet(scratch.toString())
        if fs.exists(target) and not fs.rename(target, old):
            raise StanceError("cannot move the old output aside", path=output)
        if not fs.rename(scratch, target):
            if fs.exists(old):
                fs.rename(old, target)
            raise StanceError("cannot rename the new output into place", path=output)
        fs.delete(old, True)
    finally:
        if fs.exists(scratch):
            fs.delete(scratch, True)


def score_spark(input_path: str, output_path: str, model_uri: str = CHAMPION_URI, tracking_uri: str | None = None,
                *, master: str | None = None, text_column: str = "text", target_column: str = "target",
                target: str | None = None, precision: str = "fp32", partitions: int | None = None,
                force: bool = False, engine: str = DEFAULT_ENGINE, input_format: str | None = None) -> dict:
    """Score ``input_path`` (CSV, TSV, Parquet) into Parquet at ``output_path`` with Spark.

    Reuses an active SparkSession (spark-submit's, or one started earlier: it is left running),
    else starts one on ``master`` (default local[2]). Returns the counts, times and paths.
    """
    started = time.perf_counter()
    if engine not in ENGINES:
        raise StanceError(f"unknown Spark engine '{engine}' ({' or '.join(ENGINES)})")
    if precision not in ("fp32", "int8") or (precision == "int8" and engine != "lean"):
        raise StanceError(f"precision '{precision}' is not available with the {engine} engine")
    if partitions is not None and partitions < 1:
        raise StanceError(f"partitions must be at least 1, not {partitions}")
    input_path, output_path = str(input_path), str(output_path)
    fmt = None
    local = not _remote(input_path) and not _remote(output_path) and \
        (master or DEFAULT_MASTER).startswith("local") and "PYSPARK_GATEWAY_PORT" not in os.environ
    if local:  # fail fast, before the ~20 s a Spark session takes to start
        if not Path(input_path).exists():
            raise StanceError("input not found", path=input_path)
        fmt = format_of(input_path, input_format)
        columns = _local_columns(Path(input_path), fmt)
        if columns is not None and text_column not in columns:
            raise _missing_column(text_column, columns, input_path)
        if Path(output_path).exists() and not force:
            raise StanceError("the output exists: add --force to replace it", path=output_path)
        input_path, output_path = str(Path(input_path).resolve()), str(Path(output_path).resolve())
    fmt = fmt or format_of(input_path, input_format)
    tracking_uri = resolve_uri(tracking_uri or default_tracking_uri())
    folder, notice = lean_folder(model_uri, tracking_uri, precision) if engine == "lean" else (None, None)
    spark_started = time.perf_counter()
    spark = session(master)
    session_seconds = time.perf_counter() - spark_started
    frame, rows, blank = _read(spark, input_path, fmt, text_column, target_column, target)
    frame, used = _spread(spark, frame, partitions)
    if folder is not None:
        from pyspark.sql.types import DoubleType, StringType, StructField, StructType

        spark.sparkContext.addFile(str(folder), recursive=True)
        fields = [StructField(c, StringType()) for c in ("text", "target", "label")]
        fields += [StructField(c, DoubleType()) for c in ("confidence", *PROBA)]
        if "id" in frame.columns:
            fields.insert(0, frame.schema["id"])
        score = partial(_score_partition, name=folder.name, precision=precision, keep_id="id" in frame.columns)
        scored = frame.mapInPandas(score, StructType(fields))
    else:
        scored = _pyfunc_scored(spark, frame, model_uri, tracking_uri)
        if notice:
            log.warning("%s: scoring through mlflow.pyfunc.spark_udf", notice)
    writing = time.perf_counter()
    _write_atomically(spark, scored, output_path, force)
    finished = time.perf_counter()
    return {"rows": rows, "blank": blank, "seconds": finished - started, "session_seconds": session_seconds,
            "write_seconds": finished - writing, "rows_per_second": rows / max(finished - writing, 1e-9),
            "engine": "lean" if folder is not None else "pyfunc", "notice": notice, "partitions": used,
            "master": spark.sparkContext.master, "model": model_uri, "input": input_path, "output": output_path}


def summary(result: dict) -> str:
    """The one line the commands print."""
    blank = f", {result['blank']} blank skipped" if result["blank"] else ""
    return (f"{result['rows']} predictions in {result['seconds']:.1f} s ({result['rows_per_second']:.0f} rows/s "
            f"scoring, {result['session_seconds']:.1f} s Spark start; {result['engine']} engine, "
            f"{result['master']}{blank}) -> {result['output']}")


def main(argv: list[str] | None = None) -> int:
    """``python -m stance.spark`` / ``spark-submit stance/spark.py``: see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m stance.spark", description=__doc__.splitlines()[0])
    parser.add_argument("input", help=".csv, .tsv, .parquet or a folder of Parquet (any Hadoop URI)")
    parser.add_argument("output", help="Parquet folder to write")
    parser.add_argument("-m", "--model", default=CHAMPION_URI, help="MLflow model URI [%(default)s]")
    parser.add_argument("--tracking-uri", default=None, help="MLflow store [$MLFLOW_TRACKING_URI or mlflow.db]")
    parser.add_argument("--master", default=None, help=f"Spark master [{DEFAULT_MASTER}; spark-submit's]")
    parser.add_argument("--engine", choices=ENGINES, default=DEFAULT_ENGINE)
    parser.add_argument("--partitions", type=int, default=None, help="[one per core, at least]")
    parser.add_argument("--input-format", choices=["csv", "tsv", "parquet"], default=None)
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--target-column", default="target")
    parser.add_argument("--target", default=None, help="target for statements that have none")
    parser.add_argument("--int8", action="store_true", help="the int8 sentence encoder (lean engine)")
    parser.add_argument("--force", action="store_true", help="replace an existing output")
    args = parser.parse_args(argv)
    from stance.runtime import quiet_libraries

    quiet_libraries()
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")
    try:
        result = score_spark(args.input, args.output, args.model, args.tracking_uri, master=args.master,
                             text_column=args.text_column, target_column=args.target_column, target=args.target,
                             precision="int8" if args.int8 else "fp32", partitions=args.partitions,
                             force=args.force, engine=args.engine, input_format=args.input_format)
    except StanceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary(result))
    return 0


if __name__ == "__main__":  # run through the package, so executors unpickle stance.spark's functions by name
    from stance.spark import main as _main

    sys.exit(_main())
