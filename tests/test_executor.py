"""The trial executor (spacy_dice/training/executor.py) behind ``compare`` / ``sweep``:
local pool and Ray give the same scores, a failing trial is recorded while the others finish,
``--resume`` skips finished trials, ``sweep --early-stop`` (Ray Tune's ASHA) stops a trial early.

The Ray tests share one local Ray with 2 CPUs (started once for the module); trainings are a
few steps on the shipped sample."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from thinc.api import Config
from typer.testing import CliRunner

from spacy_dice.cli import app
from spacy_dice.files import write_atomic
from spacy_dice.training.executor import (
    RayUnavailable,
    TrialExecutor,
    parse_seeds,
)

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_parse_seeds():
    assert parse_seeds("0, 1,2") == [0, 1, 2] and parse_seeds(3) == [3]
    for bad, error in (("0,x", "integers"), ("", "no seed"), ("1,1", "twice")):
        with pytest.raises(ValueError, match=error):
            parse_seeds(bad)


@pytest.mark.parametrize("kwargs,error", [
    ({"engine": "spark"}, "expected one of local, ray"),
    ({"workers": 0}, "at least 1"),
    ({"ray_address": "auto"}, "needs engine 'ray'"),
    ({"engine": "ray", "ray_address": "http://x"}, "ray://HOST:PORT"),
    ({"gpus_per_trial": 1}, "needs engine 'ray'"),
])
def test_executor_rejects_bad_settings(kwargs, error):
    with pytest.raises(ValueError, match=error):
        TrialExecutor(**kwargs)


def test_engine_ray_without_ray_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(RayUnavailable, match=r'pip install "spacy-dice\[distributed\]"'):
        TrialExecutor(engine="ray")
    cfg = tmp_path / "c.cfg"
    cfg.write_text((ROOT / "configs" / "ner_cnn.cfg").read_text())
    data = tmp_path / "x.spacy"
    data.write_bytes(b"")
    result = runner.invoke(app, ["compare", str(cfg), "--train", str(data), "--dev", str(data),
                                 "--losses", "ce", "--engine", "ray"])
    assert result.exit_code == 1
    assert 'pip install "spacy-dice[distributed]"' in " ".join(result.output.split())


def test_write_atomic_leaves_no_temporary_file(tmp_path):
    path = write_atomic(tmp_path / "out" / "r.json", "{}")
    assert path.read_text() == "{}" and [p.name for p in path.parent.iterdir()] == ["r.json"]


@pytest.fixture(scope="module")
def ray_local():
    """One local Ray with 2 CPUs for the module (the executor reuses an initialised Ray)."""
    ray = pytest.importorskip("ray")
    from spacy_dice.training.executor import init_ray

    assert init_ray("", 2)  # as --engine ray starts it: 2 CPUs, trials at normal priority
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The shipped sample converted (full for ASHA, a 60-sentence slice for the rest) and the
    project's NER config."""
    tmp = tmp_path_factory.mktemp("executor")
    for name, limit in (("small", ["--limit", "60"]), ("full", [])):
        result = runner.invoke(app, ["project-convert", "sample", "--sample-dir", str(ROOT / "assets" / "sample"),
                                     "--output", str(tmp / name), *limit])
        assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["project-config", "sample", "--configs-dir", str(ROOT / "configs"),
                                 "--output", str(tmp / "config.cfg")])
    assert result.exit_code == 0, result.output
    return tmp


def _data(tmp: Path, corpus: str = "small") -> list:
    c = tmp / corpus
    return [str(tmp / "config.cfg"), "--train", str(c / "train.spacy"), "--dev", str(c / "dev.spacy"),
            "--test", str(c / "test.spacy"), "--quiet"]


def _numbers(path: Path) -> dict:
    """What must not depend on the engine (timings and speeds left out)."""
    runs = json.loads(path.read_text())["runs"]
    return {(r["name"], r["seed"]): (r["scores"], r["per_type"], r["dev_curve"], r["best_dev_score"],
                                     {k: v for k, v in r["metrics"].items() if k != "speed"})
            for r in runs}


@pytest.mark.slow
def test_local_pool_and_ray_give_the_same_scores_and_resume_skips_finished_trials(sample, ray_local):
    """Two seeds in the local pool of two workers, seed 0 again as a Ray task: the same scores,
    dev curve and metrics; then ``--resume`` on Ray trains nothing and writes the same outputs."""
    tmp = sample
    grid = ["--losses", "ce", "--max-steps", "6", "--eval-frequency", "3"]
    outputs = {}
    for engine, seeds in (("local", "0,1"), ("ray", "0")):
        out = tmp / "metrics" / engine
        result = runner.invoke(app, ["compare", *_data(tmp), *grid, "--seeds", seeds, "--engine", engine,
                                     "--workers", "2", "--runs-dir", str(tmp / f"runs_{engine}"),
                                     "--output", str(out)])
        assert result.exit_code == 0, (result.output, result.exception)
        outputs[engine] = out.with_suffix(".json")
    local, ray = _numbers(outputs["local"]), _numbers(outputs["ray"])
    assert sorted(local) == [("ce", 0), ("ce", 1)] and sorted(ray) == [("ce", 0)]
    assert local[("ce", 0)] == ray[("ce", 0)]
    assert local[("ce", 0)] != local[("ce", 1)]  # the seed reached the trial
    data = json.loads(outputs["local"].read_text())
    assert data["complete"] and [row["name"] for row in data["rows"]] == ["ce"]
    assert data["rows"][0]["best_dev"]["std"] is not None  # mean +- std over the two seeds
    table = outputs["local"].with_suffix(".md").read_text()
    assert "| loss | seeds |" in table and " ± " in table
    # --resume: every trial is finished, none trains again, the outputs are the same
    stamps = {p: p.stat().st_mtime for p in (tmp / "runs_ray").glob("*/result.json")}
    result = runner.invoke(app, ["compare", *_data(tmp), *grid, "--seeds", "0", "--engine", "ray", "--workers", "2",
                                 "--resume", "--runs-dir", str(tmp / "runs_ray"), "--output", str(tmp / "metrics" / "ray")])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "1 of 1 trials already finished" in " ".join(result.output.split())
    assert stamps and all(p.stat().st_mtime == t for p, t in stamps.items())
    assert _numbers(outputs["ray"]) == ray


@pytest.mark.slow
def test_a_failing_trial_is_recorded_and_the_other_finishes(sample, monkeypatch):
    from spacy_dice.training import compare as grid

    make_specs = grid.trial_specs

    def one_broken(*args, **kwargs):
        specs = make_specs(*args, **kwargs)
        specs[1].train_path = str(sample / "missing" / "train.spacy")  # dsc: spacy train fails
        return specs

    monkeypatch.setattr(grid, "trial_specs", one_broken)
    out = sample / "metrics" / "failing"
    result = runner.invoke(app, ["compare", *_data(sample), "--losses", "ce,dsc", "--max-steps", "3",
                                 "--eval-frequency", "3", "--workers", "1",
                                 "--runs-dir", str(sample / "runs_failing"), "--output", str(out)])
    assert result.exit_code == 1
    assert "1 trial(s) failed" in " ".join(result.output.split())
    data = json.loads(out.with_suffix(".json").read_text())
    assert [r["name"] for r in data["runs"]] == ["ce"]
    assert [f["name"] for f in data["failures"]] == ["dsc"] and "spacy train failed" in data["failures"][0]["error"]
    assert "| dsc | failed: RuntimeError: spacy train failed" in out.with_suffix(".md").read_text()


@pytest.mark.slow
def test_early_stop_stops_a_trial_early(sample, ray_local):
    """ASHA, one trial at a time (a fixed order: the outcome is deterministic): a focal gamma
    below the median dev score of those before it at the rung (30 steps) is stopped there
    (gamma 0 against gamma 5, which learns faster at 4 times the config's learning rate).
    (Focal loss, as it learns within 30 steps on the sample; Tversky does not.)"""
    config = Config().from_disk(sample / "config.cfg", interpolate=False)
    config["training"]["optimizer"]["learn_rate"] = 0.004
    config.to_disk(sample / "config_fast.cfg")
    data_args = _data(sample, "full")
    data_args[0] = str(sample / "config_fast.cfg")
    out = sample / "metrics" / "asha"
    result = runner.invoke(app, ["sweep", *data_args, "--loss", "focal", "--param", "gamma",
                                 "--values", "5,0", "--max-steps", "60", "--eval-frequency", "30",
                                 "--early-stop", "--grace-steps", "30", "--reduction-factor", "2", "--workers", "1",
                                 "--runs-dir", str(sample / "runs_asha"), "--output", str(out)])
    assert result.exit_code == 0, (result.output, result.exception)
    data = json.loads(out.with_suffix(".json").read_text())
    saved = data["early_stop"]
    assert saved["stopped"] == ["gamma=0"] and saved["completed"] == ["gamma=5"], saved
    assert saved["steps_run"] == 60 + 30 < saved["steps_full"] == 2 * 60
    assert saved["picked"] == "gamma=5"
    assert [s["steps"] for s in data["stopped"]] == [30]
    assert "stopped early" in out.with_suffix(".md").read_text()


@pytest.mark.slow
def test_batch_annotation_with_ray_data_matches_nlp_pipe(tmp_path, ray_local):
    """docs/PROJECT.md's batch annotation example: one loaded pipeline per Ray Data actor gives
    the same annotations as ``nlp.pipe`` (a rule-based pipeline stands in for a trained one)."""
    import spacy

    from spacy_dice.annotate import annotate_local, annotate_ray

    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "LOC", "pattern": "Paris"},
                                               {"label": "PER", "pattern": "Ada"}])
    nlp.to_disk(tmp_path / "model")
    texts = [f"Ada went to Paris {i} times." if i % 2 else f"Text {i} names nobody." for i in range(40)]
    local = annotate_local(str(tmp_path / "model"), texts)
    assert local[1]["ents"] == [[0, 3, "PER"], [12, 17, "LOC"]] and local[0]["ents"] == []
    assert annotate_ray(str(tmp_path / "model"), texts, concurrency=2, batch_size=8) == local


_DRIVER = """
import sys, time
from pathlib import Path
from spacy_dice.training.executor import process_pool
from spacy_dice.training.runner import _train_process

if __name__ == "__main__":
    tmp = Path(sys.argv[1])
    pool = process_pool(2)
    for i in range(3):
        out = tmp / f"trial{i}"
        out.mkdir()
        sleeper = f"import os, time; open({str(out / 'pid')!r}, 'w').write(str(os.getpid())); time.sleep(300)"
        pool.submit(_train_process, [sys.executable, "-c", sleeper], out, out / "log.jsonl",
                    quiet=True, env=None, on_record=None)
    (tmp / "workers").write_text(" ".join(str(pid) for pid in pool._processes))
    time.sleep(300)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="workers die with the driver through Linux's PR_SET_PDEATHSIG")
def test_killing_the_driver_stops_its_workers_and_their_trainings(tmp_path):
    """A grid stopped by killing its driver (SIGKILL: no cleanup runs) leaves no pool worker
    to start the trial queued to it, and no ``spacy train`` running on."""
    script = tmp_path / "driver.py"
    script.write_text(_DRIVER)
    driver = subprocess.Popen([sys.executable, str(script), str(tmp_path)])
    try:
        started = [tmp_path / f"trial{i}" / "pid" for i in range(2)]
        assert _wait_for(lambda: all(p.exists() and p.read_text() for p in started)
                         and (tmp_path / "workers").exists(), 120), "the two trials did not start"
        trainings = [int(p.read_text()) for p in started]
        workers = [int(pid) for pid in (tmp_path / "workers").read_text().split()]
        assert len(workers) == 2 and all(_alive(pid) for pid in workers + trainings)
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    assert _wait_for(lambda: not any(_alive(pid) for pid in workers + trainings), 30), \
        [pid for pid in workers + trainings if _alive(pid)]
    time.sleep(1.0)
    assert not (tmp_path / "trial2" / "pid").exists(), "a worker started the queued trial"
