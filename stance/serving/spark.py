"""Score a CSV or Parquet file of statements on Spark, writing Parquet: ``stance predict --spark``.

The driver resolves the model's lean artefact (:mod:`stance.serving.onnx`) and ships it with ``SparkContext.addFile``;
``mapInPandas`` scores with a ``LeanModel`` loaded once per Python worker (numpy, onnxruntime, tokenizers: no
MLflow on executors). ``engine="pyfunc"`` (and, with a notice, a family without a lean form) uses
``mlflow.pyfunc.spark_udf``. Output: any ``id`` column, then ``text, target, label, confidence, p_support,
p_oppose, p_neutral`` (``classify``'s values) in input order, blank statements skipped, written to a hidden
``.OUTPUT.tmp-*`` folder, then renamed into place. Usage (options: :func:`score_spark`'s arguments)::

    python -m stance.serving.spark INPUT OUTPUT [--model-uri URI] [--tracking-uri URI] [--master local[4]]
        [--engine lean|pyfunc] [--partitions N] [--text-column C] [--target T] [--precision fp32|w8|int8] [--force]

On a cluster, give this file to ``spark-submit`` (which sets the master); executors need a Python with this
package at the driver's path (``PYSPARK_PYTHON``, default ``sys.executable``) or a packed environment::

    spark-submit --master yarn --archives env.tar.gz#env --conf spark.pyspark.python=./env/bin/python \\
        "$(python -c 'import stance.serving.spark as s; print(s.__file__)')" \\
        hdfs:///data/statements.parquet hdfs:///data/predictions.parquet --tracking-uri http://mlflow:5000
"""

from __future__ import annotations

import argparse
import inspect
import logging
import os
import shutil
import sys
import time
import uuid
import warnings
from collections.abc import Iterator
from functools import partial
from pathlib import Path, PurePosixPath

from stance.tracking.store import CHAMPION_URI, default_tracking_uri, resolve_uri, sqlite_path
from stance.errors import StanceError
from stance.io import atomic_write_text, cache_dir
from stance.labels import LABELS, target_or
from stance.scores import in_label_order

log = logging.getLogger(__name__)

DEFAULT_MASTER = "local[2]"
ENGINES = ("lean", "pyfunc")
DEFAULT_ENGINE = "lean"  # the faster one in benchmarks/results/spark-cpu.md
FORMATS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}
PROBA = [f"p_{label}" for label in LABELS]
#: Spark's own log: warnings and errors only, without the native-Hadoop notice.
LOG4J = ("rootLogger.level = warn\nrootLogger.appenderRef.stderr.ref = console\nappender.console.type = Console\n"
         "appender.console.name = console\nappender.console.target = SYSTEM_ERR\nappender.console.layout.type = Pattern"
         "Layout\nappender.console.layout.pattern = spark %p %c{1}: %m%n\nlogger.native.level = error\n"
         "logger.native.name = org.apache.hadoop.util.NativeCodeLoader\n")
#: Lean models loaded in this Python worker, by artefact name and precision.
_MODELS: dict[tuple[str, str], object] = {}


def format_of(path: str, fmt: str | None = None) -> str:
    """csv, tsv or parquet: ``fmt`` if given, else the suffix (a suffix-less folder is Parquet)."""
    suffix = PurePosixPath(path.rstrip("/")).suffix.lower()
    fmt = fmt or FORMATS.get(suffix) or ("parquet" if not suffix and Path(path).is_dir() else None)
    if fmt not in ("csv", "tsv", "parquet"):
        raise StanceError(f"unknown input format '{fmt or suffix or 'no suffix'}' (.csv, .tsv, .parquet or a "
                          "folder of Parquet; or give --input-format)", path=path)
    return fmt


def _check_local(input_path: str, output_path: str, fmt: str | None, text_column: str, force: bool):
    """Local input and output checked before Spark's ~20 s start; returns them absolute, and the format."""
    import pyarrow.csv
    import pyarrow.dataset

    if not Path(input_path).exists():
        raise StanceError("input not found", path=input_path)
    fmt = format_of(input_path, fmt)
    options = pyarrow.csv.ParseOptions(delimiter="\t" if fmt == "tsv" else ",", newlines_in_values=True)
    try:
        columns = pyarrow.dataset.dataset(input_path, format="parquet" if fmt == "parquet" else
                                          pyarrow.dataset.CsvFileFormat(parse_options=options)).schema.names
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds for a bad or empty file
        raise StanceError(f"not readable as {fmt} ({str(exc).splitlines()[0][:200]})", path=input_path) from None
    if text_column not in columns:
        raise StanceError(f"missing column '{text_column}' (columns: {', '.join(columns)})", path=input_path)
    if Path(output_path).exists() and not force:
        raise StanceError("the output exists: add --force to replace it", path=output_path)
    return str(Path(input_path).resolve()), str(Path(output_path).resolve()), fmt


def session(master: str | None = None, app_name: str = "stance-predict"):
    """The running SparkSession (spark-submit's, an earlier one), else a new quiet one on ``master`` (local[2])."""
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    try:
        from pyspark import SparkContext
        from pyspark.sql import SparkSession
    except ImportError:
        raise StanceError("Spark scoring needs pyspark: pip install pyspark") from None
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ or SparkContext._active_spark_context is not None
    local = not submitted and (master or DEFAULT_MASTER).startswith("local")
    os.environ["PYSPARK_PYTHON"] = sys.executable if local else os.environ.get("PYSPARK_PYTHON", sys.executable)
    if submitted:  # spark-submit's master, or the session already running
        (spark := SparkSession.builder.appName(app_name).getOrCreate()).sparkContext.setLogLevel("WARN")
        return spark
    java = Path(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else None
    if not (java and java.is_file()) and not shutil.which("java"):
        raise StanceError("Spark needs Java 17 or later: no 'java' on PATH and no JAVA_HOME (install a JDK)")
    atomic_write_text(config := cache_dir() / "spark-log4j2.properties", LOG4J)
    settings = {"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false",
                "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={config.as_uri()}"}
    if local:
        os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
        settings |= {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}
    return SparkSession.builder.master(master or DEFAULT_MASTER).appName(app_name).config(map=settings).getOrCreate()


def lean_folder(model_uri: str, tracking_uri: str, precision: str = "fp32") -> tuple[Path | None, str | None]:
    """``(artefact folder, None)``, built if need be; ``(None, why)`` when the model goes through MLflow."""
    from stance.serving.onnx.cache import artefact_dir, check, rebuild_artefact
    from stance.serving.onnx.lookup import resolve_ref

    ref = resolve_ref(model_uri, tracking_uri)
    if ref is None:
        return None, f"{model_uri} cannot be resolved without MLflow in this store"
    folder = artefact_dir(ref)
    manifest, _ = check(folder, ref, precision)
    try:
        manifest = manifest or rebuild_artefact(ref, folder)[0]
    except OSError as exc:
        return None, f"cannot write the lean artefact ({exc.strerror or exc})"
    return (folder, None) if manifest.get("exportable", True) else (None, manifest.get("reason", "no lean form"))


def _score_partition(batches: Iterator, name: str, precision: str, keep_id: bool) -> Iterator:
    """mapInPandas: (id,) text, target in; the prediction columns out (classify's arithmetic)."""
    import numpy as np
    import pandas as pd

    if (name, precision) not in _MODELS:  # once per Python worker (reused across tasks), a thread per task CPU
        from pyspark import SparkFiles, TaskContext

        from stance.serving.onnx.inference import LeanModel

        cpus = TaskContext.get().cpus() if TaskContext.get() else 1
        _MODELS[name, precision] = LeanModel(SparkFiles.get(name), precision, cpus)
    model = _MODELS[name, precision]
    for frame in batches:
        targets = [target_or(t, None) for t in frame["target"].tolist()]
        proba = in_label_order(model.predict_proba(frame["text"].tolist(), targets), model.classes_)
        best = proba.argmax(axis=1)
        out = pd.DataFrame({"text": frame["text"].to_numpy(dtype=object), "target": np.array(targets, dtype=object),
                            "label": np.array(LABELS, dtype=object)[best],
                            "confidence": proba[np.arange(len(best)), best],
                            **{column: proba[:, k] for k, column in enumerate(PROBA)}})
        if keep_id:
            out.insert(0, "id", frame["id"].reset_index(drop=True))
        yield out


def _lean_scored(spark, frame, folder: Path, precision: str):
    """The prediction columns through the lean model, shipped to the executors with addFile."""
    if not any(f.rstrip("/").endswith("/" + folder.name) for f in spark.sparkContext.listFiles):
        spark.sparkContext.addFile(str(folder), recursive=True)
    keep_id = "id" in frame.columns
    schema = ", ".join([*([f"id {frame.schema['id'].dataType.simpleString()}"] if keep_id else []),
                        "text string, target string, label string", *(f"{c} double" for c in ("confidence", *PROBA))])
    return frame.mapInPandas(partial(_score_partition, name=folder.name, precision=precision, keep_id=keep_id), schema)


def _pyfunc_scored(spark, frame, model_uri: str, tracking_uri: str):
    """The prediction columns through ``mlflow.pyfunc.spark_udf`` (MLflow loads the model on every executor)."""
    from pyspark.sql import functions as F

    from stance.tracking.registry import spark_udf

    scored = frame.withColumn("_p", spark_udf(spark, model_uri, tracking_uri)(F.struct("text", "target")))
    return scored.select(*(c for c in ("id", "text", "target") if c in frame.columns), F.col("_p.label").alias("label"),
                         F.greatest(*(F.col(f"_p.{label}") for label in LABELS)).alias("confidence"),
                         *(F.col(f"_p.{label}").alias(f"p_{label}") for label in LABELS))


def _read(spark, path: str, fmt: str, text_column: str, target_column: str, target: str | None, partitions: int | None):
    """``(frame, statements, blank ones, partitions)``: (id,) text and target (the default filled in),
    in at least one partition per core (or ``partitions``), contiguous ranges in input order."""
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F

    try:
        frame = spark.read.parquet(path) if fmt == "parquet" else spark.read.csv(
            path, header=True, multiLine=True, escape='"', sep="\t" if fmt == "tsv" else ",")
    except AnalysisException as exc:
        found = "PATH_NOT_FOUND" not in str(exc) and "does not exist" not in str(exc)
        raise StanceError(f"cannot read the input ({str(exc).splitlines()[0][:200]})" if found else
                          "input not found", path=path) from None
    if text_column not in frame.columns:
        raise StanceError(f"missing column '{text_column}' (columns: {', '.join(frame.columns)})", path=path)
    given = F.col(target_column).cast("string") if target_column in frame.columns else F.lit(None).cast("string")
    frame = frame.select(*([F.col("id")] if "id" in frame.columns else []), F.col(text_column).cast("string")
                         .alias("text"), F.when(F.trim(given) != "", given).otherwise(F.lit(target)).alias("target"))
    blank = F.col("text").isNull() | (F.trim(F.col("text")) == "")
    counts = frame.agg(F.count(F.lit(1)).alias("rows"), F.count(F.when(blank, 1)).alias("blank")).first()
    if counts["rows"] == counts["blank"]:
        raise StanceError(f"no statements to classify ({counts['blank']} blank)" if counts["rows"] else
                          "empty input: no rows", path=path)
    frame, current = frame.where(~blank), frame.rdd.getNumPartitions()
    wanted = partitions or max(current, spark.sparkContext.defaultParallelism)
    if wanted != current:
        frame = (frame.withColumn("_row", F.monotonically_increasing_id()).repartitionByRange(wanted, "_row")
                 .sortWithinPartitions("_row").drop("_row"))
    return frame, counts["rows"] - counts["blank"], counts["blank"], wanted


def _write_atomically(spark, frame, output: str, force: bool) -> None:
    """Parquet into a hidden folder beside ``output`` renamed into place: nothing half-written ever stays."""
    HPath = spark.sparkContext._jvm.org.apache.hadoop.fs.Path
    fs = HPath(output).getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    target = fs.makeQualified(HPath(output))
    if fs.exists(target) and not force:
        raise StanceError("the output exists: add --force to replace it", path=output)
    scratch, old = (HPath(target.getParent(), f".{target.getName()}.{kind}-{uuid.uuid4().hex[:12]}")
                    for kind in ("tmp", "old"))
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
        fs.delete(scratch, True)


def score_spark(input_path: str, output_path: str, model_uri: str = CHAMPION_URI, tracking_uri: str | None = None,
                *, master: str | None = None, text_column: str = "text", target_column: str = "target",
                target: str | None = None, precision: str = "auto", partitions: int | None = None,
                force: bool = False, engine: str = DEFAULT_ENGINE, input_format: str | None = None) -> dict:
    """Score a CSV, TSV or Parquet input into Parquet (a running SparkSession is reused and left running, else one
    starts on ``master``, default local[2]); returns the counts, times and paths. ``precision``: as for
    :func:`stance.serving.predict.predict` (``auto`` is fp32 here: a batch job)."""
    from stance.serving.precision import CHOICES, resolve

    started, fmt = time.perf_counter(), None
    if engine not in ENGINES or precision not in CHOICES or (precision not in ("auto", "fp32") and engine == "pyfunc") \
            or (partitions is not None and partitions < 1):
        raise StanceError(f"engine {engine}, precision {precision}, partitions {partitions}: use lean "
                          f"({', '.join(CHOICES)}) or pyfunc, and at least one partition")
    precision = resolve(precision)
    input_path, output_path = str(input_path), str(output_path)
    if "://" not in input_path + output_path and "PYSPARK_GATEWAY_PORT" not in os.environ and \
            (master or DEFAULT_MASTER).startswith("local"):  # URIs (hdfs://, s3a://...): only Spark can tell
        input_path, output_path, fmt = _check_local(input_path, output_path, input_format, text_column, force)
    fmt = fmt or format_of(input_path, input_format)
    tracking_uri = resolve_uri(tracking_uri or default_tracking_uri())
    if (store := sqlite_path(tracking_uri)) is not None and not store.is_file():  # MLflow would create an empty one
        raise StanceError(f"no MLflow store at {store} (point --tracking-uri or MLFLOW_TRACKING_URI at one)")
    folder, notice = lean_folder(model_uri, tracking_uri, precision) if engine == "lean" else (None, None)
    spark_started = time.perf_counter()
    spark, session_seconds = session(master), time.perf_counter() - spark_started
    frame, rows, blank, used = _read(spark, input_path, fmt, text_column, target_column, target, partitions)
    scored = _lean_scored(spark, frame, folder, precision) if folder else _pyfunc_scored(spark, frame, model_uri,
                                                                                         tracking_uri)
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
    return (f"{result['rows']} predictions in {result['seconds']:.1f} s ({result['rows_per_second']:.0f} rows/s "
            f"scoring, {result['session_seconds']:.1f} s Spark start; {result['engine']} engine on {result['master']}"
            f"{', %d blank skipped' % result['blank'] if result['blank'] else ''}) -> {result['output']}")


def main(argv: list[str] | None = None) -> int:
    """``python -m stance.serving.spark INPUT OUTPUT [options]``: :func:`score_spark`'s arguments as options."""
    parser = argparse.ArgumentParser("python -m stance.serving.spark", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, parameter in inspect.signature(score_spark).parameters.items():
        default, flag = parameter.default, "--" + name.replace("_", "-")
        if default is inspect.Parameter.empty:
            parser.add_argument(name, metavar=name.removesuffix("_path").upper())
        else:
            parser.add_argument(flag, **({"action": "store_true"} if default is False else
                                         {"default": default, "type": int if name == "partitions" else str}))
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")
    try:
        print(summary(score_spark(**vars(parser.parse_args(argv)))), file=sys.stderr)
    except StanceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # through the package, so executors unpickle stance.serving.spark's functions by name
    from stance.serving.spark import main as _main

    sys.exit(_main())
