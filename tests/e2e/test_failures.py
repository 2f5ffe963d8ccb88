"""Failures leave a true record: a job that raises ends FAILED with its error, an interrupted
job (SIGINT, SIGTERM) ends KILLED, finished folds stay logged, no run stays RUNNING, and an
unreachable tracking server is one line before any training."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from stance.experiment.engine import train
from stance.errors import StanceError
from stance.experiment.interrupts import Interrupted, interrupts_raise
from tests_helpers import clean_env, free_port

STANCE = shutil.which("stance", path=str(Path(sys.executable).parent))
ROOT = Path(__file__).resolve().parents[2]
TESTS = str(Path(__file__).resolve().parents[1])
FAULTY = ["model=majority", "model.estimator._target_=faults.FaultyMajority"]


def all_runs(uri, experiment="foreign-troops"):
    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    return client, (client.search_runs([found.experiment_id]) if found else [])


def fold_steps(client, run):
    return [m.step for m in client.get_metric_history(run.info.run_id, "macro_f1")]


def start_train(root, corpus, workdir, *args):
    uri = f"sqlite:///{workdir}/mlflow.db"
    command = [STANCE, "train", f"data.path={corpus}", f"tracking.uri={uri}", f"tracking.artifact_root={workdir}/art",
               "eval.n_bootstrap=50", f"hydra.run.dir={workdir}/run", f"hydra.sweep.dir={workdir}/sweep", *args]
    process = subprocess.Popen(command, cwd=root, env=clean_env(PYTHONPATH=TESTS), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, preexec_fn=default_signals)
    return uri, process


def default_signals() -> None:
    """In the child: the signals' default actions, as in a terminal. A test run started in
    the background (``&``, CI runners) inherits SIGINT ignored, and the job would keep ignoring it."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)


def wait_for(path: Path, process, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.2)


def test_a_job_that_raises_ends_failed_with_the_error_and_keeps_finished_folds(make_cfg):
    cfg = make_cfg(*FAULTY, "+model.estimator.fault=raise", "+model.estimator.at_fit=3")
    import faults

    faults._fits = 0
    with pytest.raises(RuntimeError, match="injected failure in fit 3"):
        train(cfg)
    client, [run] = all_runs(cfg.tracking.uri)
    assert run.info.status == "FAILED"
    assert run.data.tags["stance.error"] == "RuntimeError: injected failure in fit 3"
    path = client.download_artifacts(run.info.run_id, "error.txt")
    assert Path(path).read_text() == "RuntimeError: injected failure in fit 3\n"
    assert fold_steps(client, run) == [0, 1]  # the two folds that finished are logged


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_an_interrupted_job_ends_killed_with_its_finished_folds(signum, root, tiny_corpus, tmp_path):
    marker = tmp_path / "blocked"
    uri, process = start_train(root, tiny_corpus, tmp_path, *FAULTY, "+model.estimator.fault=block",
                               "+model.estimator.at_fit=2", f"+model.estimator.marker={marker}")
    wait_for(marker, process)  # fold 1 is logged, fold 2 is training
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    name = signal.Signals(signum).name
    assert process.returncode == 128 + signum
    assert stderr.strip().splitlines()[-1] == f"error: interrupted by {name}"
    assert "Traceback" not in stderr
    client, [run] = all_runs(uri)
    assert run.info.status == "KILLED" and run.data.tags["stance.error"] == f"interrupted by {name}"
    assert fold_steps(client, run) == [0]


@pytest.mark.slow
def test_a_sweep_with_a_failing_job_ends_failed_and_nothing_stays_running(root, tiny_corpus, tmp_path):
    uri, process = start_train(root, tiny_corpus, tmp_path, "-m", *FAULTY, "+model.estimator.fault=none,raise",
                               "+model.estimator.at_fit=2", "debug=true")
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 1 and "RuntimeError: injected failure in fit" in stderr
    client, runs = all_runs(uri)
    [parent] = [r for r in runs if r.data.tags.get("stance.role") == "sweep"]
    statuses = {r.data.params["model.estimator.fault"]: r.info.status for r in runs if r is not parent}
    assert statuses == {"none": "FINISHED", "raise": "FAILED"}
    assert parent.info.status == "FAILED"


@pytest.mark.slow
def test_an_interrupted_parallel_sweep_ends_killed_and_nothing_stays_running(root, tiny_corpus, tmp_path):
    uri, process = start_train(root, tiny_corpus, tmp_path, "-m", "hydra/launcher=parallel", "hydra.launcher.n_jobs=2",
                               *FAULTY, "+model.estimator.fault=block", "+model.estimator.at_fit=2",
                               f"+model.estimator.marker={tmp_path}/blocked-${{seed}}", "seed=1,2")
    for seed in (1, 2):  # both jobs have logged fold 1 and are training fold 2
        wait_for(tmp_path / f"blocked-{seed}", process)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM
    assert stderr.strip().splitlines()[-1] == "error: interrupted by SIGTERM"
    client, runs = all_runs(uri)
    assert len(runs) == 3 and {r.info.status for r in runs} == {"KILLED"}
    children = [r for r in runs if r.data.tags.get("stance.role") != "sweep"]
    assert all(0 in fold_steps(client, r) for r in children)  # the finished first folds are kept


@pytest.mark.parametrize("multirun", [[], ["-m"]], ids=["run", "sweep"])
def test_an_unreachable_server_is_one_line_before_any_training(multirun, root, tiny_corpus, tmp_path):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    command = [STANCE, "train", *multirun, "tracking=server", f"data.path={tiny_corpus}",
               f"hydra.run.dir={tmp_path}/run", f"hydra.sweep.dir={tmp_path}/sweep"]
    # MLflow's default retries would take minutes: the timeout is a hang guard, not a benchmark
    proc = subprocess.run(command, cwd=root, env=clean_env(MLFLOW_TRACKING_URI=url), capture_output=True, text=True,
                          timeout=90)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: cannot reach the MLflow tracking server at {url} (Connection refused); start it, or point "
        "tracking.uri or MLFLOW_TRACKING_URI at a running one"]
    assert "fold" not in proc.stdout + proc.stderr


def test_connect_error_names_the_server(monkeypatch):
    from stance.tracking.tracker import Tracker

    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StanceError, match=rf"^cannot reach the MLflow tracking server at {url} \(Connection refused\)"):
        Tracker(url, "x").connect()
    import os

    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ  # the probe's settings are put back


def test_signals_raise_only_inside_the_block_and_handlers_are_restored():
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with pytest.raises(Interrupted, match="interrupted by SIGTERM") as caught:
        with interrupts_raise():
            signal.raise_signal(signal.SIGTERM)
    assert caught.value.exit_code == 143 and isinstance(caught.value, KeyboardInterrupt)
    assert {s: signal.getsignal(s) for s in before} == before


# ----------------------------------------------------------------------------- damaged stores
@pytest.mark.parametrize("damage", ["truncated", "not a database"])
def test_a_damaged_store_is_one_line_for_every_command(registered, tmp_path, damage):
    store = tmp_path / "mlflow.db"
    data = Path(registered["uri"][len("sqlite:///"):]).read_bytes()
    store.write_bytes(data[: len(data) // 3] if damage == "truncated" else b"this is not an MLflow store")
    before = store.read_bytes()
    uri = f"sqlite:///{store}"
    commands = [
        ["models", "--tracking-uri", uri],
        ["predict", "-m", registered["model"], "--tracking-uri", uri, "A statement."],
        ["train", "model=majority", f"tracking.uri={uri}", f"data.path={ROOT / 'annotations/gold.jsonl'}"],
    ]
    for command in commands:
        proc = subprocess.run([STANCE, *command], capture_output=True, text=True, cwd=tmp_path, timeout=300)
        assert proc.returncode == 2, (command, proc.stderr[-500:])
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and f"the MLflow store at {store} is damaged" in lines[0], (command, lines)
    assert store.read_bytes() == before  # nothing written to it


@pytest.mark.slow
def test_a_busy_store_is_waited_for_then_one_line(registered, tmp_path):
    store = tmp_path / "mlflow.db"
    store.write_bytes(Path(registered["uri"][len("sqlite:///"):]).read_bytes())
    hold = ("import sqlite3, sys, time\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('BEGIN EXCLUSIVE')\n"
            "print('locked', flush=True)\n"
            "time.sleep(float(sys.argv[2]))\n"
            "c.execute('COMMIT')\n")

    def locked_for(seconds):
        holder = subprocess.Popen([sys.executable, "-c", hold, str(store), str(seconds)], stdout=subprocess.PIPE,
                                  text=True)
        assert holder.stdout.readline().strip() == "locked"
        return holder

    holder = locked_for(30)
    try:
        proc = subprocess.run([STANCE, "models", "--tracking-uri", f"sqlite:///{store}"], capture_output=True,
                              text=True, env={**os.environ, "STANCE_STORE_TIMEOUT": "2"}, timeout=120)
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode == 2 and proc.stderr.strip() == (
        f"error: store busy: {store} (locked by another process for more than 2 s; set STANCE_STORE_TIMEOUT "
        "to wait longer)")
    holder = locked_for(4)
    proc = subprocess.run([STANCE, "models", "--tracking-uri", f"sqlite:///{store}"], capture_output=True,
                          text=True, env={**os.environ, "STANCE_STORE_TIMEOUT": "60"}, timeout=120)
    holder.wait()
    assert proc.returncode == 0 and "models:/stance-test@champion" in proc.stdout


@pytest.mark.slow
def test_kill_9_leaves_no_run_running(tmp_path):
    import sqlite3

    store = tmp_path / "mlflow.db"
    uri = f"sqlite:///{store}"
    command = [STANCE, "train", "model=embed_logreg", "backbone=minilm", f"tracking.uri={uri}", f"tracking.artifact_root={tmp_path}/art",
               f"data.path={ROOT / 'annotations/gold.jsonl'}", "eval.n_bootstrap=50"]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)

    def statuses():
        if not store.is_file():
            return []
        try:
            return [row[0] for row in sqlite3.connect(store).execute("SELECT status FROM runs")]
        except sqlite3.OperationalError:
            return []

    deadline = time.monotonic() + 120
    while "RUNNING" not in statuses() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert statuses() == ["RUNNING"], "the run never started"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert statuses() == ["RUNNING"]  # what kill -9 leaves behind
    proc = subprocess.run([STANCE, "runs", "cleanup", "--tracking-uri", uri], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and "marked 1 run(s) FAILED" in proc.stdout, proc.stderr
    assert statuses() == ["FAILED"]
    reason = sqlite3.connect(store).execute("SELECT value FROM tags WHERE key = 'stance.end_reason'").fetchone()[0]
    assert f"process {process.pid} on" in reason
    again = subprocess.run([STANCE, "runs", "cleanup", "--tracking-uri", uri], capture_output=True, text=True,
                           timeout=120)
    assert "marked 0 run(s) FAILED" in again.stdout


@pytest.mark.slow
def test_a_live_run_is_left_alone_and_the_next_train_reaps_a_dead_one(make_cfg):
    from stance.tracking.liveness import owner_tags

    cfg = make_cfg("model=majority")
    train(cfg)
    client = MlflowClient(cfg.tracking.uri)
    experiment = client.get_experiment_by_name(cfg.experiment_name)
    live = client.create_run(experiment.experiment_id, run_name="live", tags=owner_tags())
    dead_tags = {**owner_tags(), "stance.pid": "999999999"}
    dead = client.create_run(experiment.experiment_id, run_name="dead", tags=dead_tags)
    train(cfg)  # any command that opens the store
    assert client.get_run(live.info.run_id).info.status == "RUNNING"
    assert client.get_run(dead.info.run_id).info.status == "FAILED"
    client.set_terminated(live.info.run_id, "FINISHED")


REAP_AT = """
import sys, time
from mlflow.tracking import MlflowClient
from stance.tracking.liveness import reap
client = MlflowClient(sys.argv[1])
experiment = client.get_experiment_by_name("dead-runs").experiment_id
while time.time() < float(sys.argv[2]):
    pass
print(len(reap(client, [experiment])))
"""


@pytest.mark.slow
def test_two_commands_opening_the_store_together_both_mark_the_dead_runs(tmp_path):
    # two workers of one search open the store at the same moment and find the same dead runs;
    # the second used to fail on the unique key of the end-reason tag the first had just written
    from stance.tracking.liveness import owner_tags

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    experiment = client.create_experiment("dead-runs")
    for _ in range(3):  # rounds: the race is one of timing
        dead = [client.create_run(experiment, tags={**owner_tags(), "stance.pid": "999999999"}).info.run_id
                for _ in range(20)]
        start = time.time() + 6  # after both have imported MLflow
        workers = [subprocess.Popen([sys.executable, "-c", REAP_AT, uri, str(start)], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outputs = [w.communicate(timeout=120) for w in workers]
        assert [w.returncode for w in workers] == [0, 0], [err[-1500:] for _, err in outputs]
        assert sum(int(out) for out, _ in outputs) >= len(dead)
        assert {client.get_run(r).info.status for r in dead} == {"FAILED"}


def without_file_override(command: list[str]) -> list[str]:
    """``command`` run so that file permissions bind it: as root, without the capabilities
    that let root write a read-only file (CAP_DAC_OVERRIDE and friends, via setpriv)."""
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: a read-only file cannot be made to bind")
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search,-fowner", *command]


@pytest.mark.slow
def test_a_read_only_store_is_one_line_for_writers_and_readable_for_readers(registered, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    store = folder / "mlflow.db"
    store.write_bytes(Path(registered["uri"][len("sqlite:///"):]).read_bytes())
    store.chmod(0o444)
    before = store.read_bytes()
    uri = f"sqlite:///{store}"
    expected = f"error: the MLflow store at {store} is read-only (the file cannot be written)"
    writers = [
        ["train", "model=majority", f"tracking.uri={uri}", f"data.path={ROOT / 'annotations/gold.jsonl'}",
         f"hydra.run.dir={tmp_path}/run"],
        ["register", "--tracking-uri", uri, "--run", registered["run_id"]],
        ["runs", "cleanup", "--tracking-uri", uri],
        ["compare", "-o", f"tracking.uri={uri}", "--out", str(tmp_path / "out")],
    ]
    for command in writers:
        proc = subprocess.run(without_file_override([STANCE, *command]), capture_output=True, text=True,
                              cwd=tmp_path, timeout=300)
        assert proc.returncode == 2, (command, proc.stderr[-800:])
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(expected), (command, lines)
    assert not (tmp_path / "out").exists()  # compare refused before writing anything
    readers = [["models", "--tracking-uri", uri],
               ["predict", "-m", registered["model"], "--tracking-uri", uri, "--mlflow", "A statement."],
               ["compare", "-o", f"tracking.uri={uri}", "-o", f"data.path={registered['cfg'].data.path}",
                "--no-log", "--out", str(tmp_path / "read")]]
    for command in readers:
        proc = subprocess.run(without_file_override([STANCE, *command]), capture_output=True, text=True,
                              cwd=tmp_path, timeout=300)
        assert proc.returncode == 0, (command, proc.stderr[-800:])
    assert (tmp_path / "read" / "leaderboard.md").is_file()
    assert store.read_bytes() == before
