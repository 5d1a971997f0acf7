"""Train one config with ``spacy train`` (a subprocess), evaluate it, time it.

>>> cfg = with_loss(load_config("configs/ner_cnn.cfg"), "ner", "dsc")
>>> result = run_training(cfg, "runs/dsc", train_path="train.spacy", dev_path="dev.spacy",
...                       test_path="test.spacy", max_steps=2000, name="dsc")
>>> result.scores, result.train_words_per_s, result.dev_curve

``spacy train`` runs as a subprocess so that spaCy's own table is shown live (and kept in
``train.log``); the dev curve and the training speed come from the JSONL log written by
``spacy-dice.JsonlLogger.v1`` (see :mod:`spacy_dice.training.logger`).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from thinc.api import Config

PathLike = Union[str, Path]
LOGGER_FILE = Path(__file__).with_name("logger.py")
PREDICT_BATCH_SIZE = 1000


@dataclass
class RunResult:
    """What one training run produced.

    ``scores`` are the summary scores on the evaluation set (``test_path`` when given, else the
    best dev scores): NER (and span categorization, ``spans_<key>_*``; joint segmentation + POS,
    ``pos_*``, with ``seg_f``) ``p``/``r``/``f``, tagging ``acc``, text classification ``accuracy``,
    ``macro_f`` and ``f_<label>`` per label; all in [0, 1]. ``per_type`` is the per-label F1.
    ``metrics`` is spaCy's full metrics dict. ``best_dev_score`` is spaCy's weighted dev score of
    the kept model and ``dev_scores`` its summary dev scores (same keys as ``scores``).
    Speeds are in words per second.
    """

    name: str
    component: str
    factory: str
    loss: Optional[Dict[str, Any]]
    seed: int
    max_steps: Optional[int]
    scores: Dict[str, float] = field(default_factory=dict)
    per_type: Dict[str, float] = field(default_factory=dict)
    metrics: Dict[str, Any] = field(default_factory=dict)
    eval_set: str = "dev"
    best_dev_score: Optional[float] = None
    dev_scores: Dict[str, float] = field(default_factory=dict)
    best_step: Optional[int] = None
    dev_curve: List[Tuple[int, float]] = field(default_factory=list)
    train_words_per_s: Optional[float] = None
    predict_words_per_s: Optional[float] = None
    predict_batch_size: int = PREDICT_BATCH_SIZE
    train_seconds: Optional[float] = None
    wall_seconds: Optional[float] = None
    paths: Dict[str, str] = field(default_factory=dict)
    command: List[str] = field(default_factory=list)
    code_digest: str = ""

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


TOOLING = ("training/", "evaluation/", "decisions/", "cli/", "init_config/", "annotate.py")
"""Sources left out of :func:`code_digest`: they run experiments, they do not train."""


def code_digest() -> str:
    """Short SHA-1 of the ``spacy_dice`` sources that a trained model depends on (the tooling
    around training, evaluation and decision tuning excluded): tells which version of the losses
    and components a result comes from."""
    import hashlib

    import spacy_dice

    root = Path(spacy_dice.__file__).parent
    digest = hashlib.sha1()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(TOOLING):
            continue
        digest.update(rel.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def _trainable_component(config: Config) -> str:
    """The one component with a ``loss`` block or the last non-tok2vec component."""
    components = config.get("components", {})
    with_loss = [name for name, section in components.items() if "loss" in section]
    if len(with_loss) == 1:
        return with_loss[0]
    others = [name for name, s in components.items() if s.get("factory") != "tok2vec"]
    if not others:
        raise ValueError("no trainable component in the config")
    return others[-1]


def _default_name(loss: Optional[Dict[str, Any]], factory: str) -> str:
    from .config_rewrites import LOSS_PRESETS

    if loss is None:
        return f"spacy:{factory}"
    for name, preset in LOSS_PRESETS.items():
        if preset == loss:
            return name
    return str(loss.get("@losses", "custom"))


def count_words(path: PathLike) -> int:
    """Number of tokens in a ``.spacy`` file."""
    from spacy.tokens import DocBin
    import spacy

    docbin = DocBin().from_disk(path)
    return sum(len(doc) for doc in docbin.get_docs(spacy.blank("xx").vocab))


def read_log(path: PathLike) -> List[Dict[str, Any]]:
    """The records of a ``spacy-dice.JsonlLogger.v1`` log (an empty list if absent)."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def train_speed(records: Sequence[Dict[str, Any]], dev_words: int) -> Tuple[Optional[float], Optional[float]]:
    """(training words/s, training seconds) from log records, without evaluation time.

    Between two evaluations the logger sees the updates plus one evaluation (timed by spaCy as
    ``dev_words / speed``) plus saving ``model-last`` (small, left in). The first interval
    (initialisation to step 0) is skipped.
    """
    words = seconds = 0.0
    for prev, cur in zip(records, records[1:]):
        dt = cur["seconds"] - prev["seconds"]
        speed = cur.get("dev_words_per_s") or 0.0
        eval_s = dev_words / speed if speed and dev_words else 0.0
        words += (cur.get("words") or 0) - (prev.get("words") or 0)
        seconds += max(dt - eval_s, 1e-9)
    if not words:
        return None, None
    return words / seconds, seconds


def headline_scores(metrics: Dict[str, Any]) -> Tuple[Dict[str, float], Dict[str, float]]:
    """(headline scores, per-type F1) from spaCy's metrics (scores of ``nlp.evaluate``): the
    flat numbers a :class:`RunResult` keeps (``p``, ``r``, ``f``, ``pos_acc``, ``macro_f``, ...);
    :func:`spacy_dice.evaluation.scores.summarize_scores` is the per-task summary of the tables."""
    scores: Dict[str, float] = {}
    per_type: Dict[str, float] = {}
    if metrics.get("ents_f") is not None:
        scores.update(p=metrics["ents_p"], r=metrics["ents_r"], f=metrics["ents_f"])
        for label, prf in (metrics.get("ents_per_type") or {}).items():
            per_type[label] = prf["f"]
    if not scores:  # span categorization: spans_<key>_p/r/f (the first key with a score)
        for key in sorted(k for k in metrics if k.startswith("spans_") and k.endswith("_f")):
            if metrics.get(key) is not None:
                stem = key[: -len("_f")]
                scores.update(p=metrics[f"{stem}_p"], r=metrics[f"{stem}_r"], f=metrics[key])
                for label, prf in (metrics.get(f"{stem}_per_type") or {}).items():
                    per_type[label] = prf["f"]
                break
    if not scores and metrics.get("pos_f") is not None:  # dice_seg_tagger: (word, POS) pairs
        scores.update(p=metrics["pos_p"], r=metrics["pos_r"], f=metrics["pos_f"], seg_f=metrics.get("seg_f"))
        for label, prf in (metrics.get("pos_per_type") or {}).items():
            per_type[label] = prf["f"]
    for key in ("pos_acc", "tag_acc"):
        if metrics.get(key) is not None:
            scores[key.replace("_acc", "") + "_acc"] = metrics[key]
    if metrics.get("cats_score") is not None:
        scores["macro_f"] = metrics.get("cats_macro_f")
        scores["accuracy"] = metrics.get("cats_micro_f")  # = accuracy for exclusive classes
        for label, prf in (metrics.get("cats_f_per_type") or {}).items():
            per_type[label] = prf["f"]
            scores[f"f_{label}"] = prf["f"]
    return {k: float(v) for k, v in scores.items() if v is not None}, per_type


def evaluate(model_path: PathLike, data_path: PathLike, gpu_id: int = -1) -> Dict[str, Any]:
    """spaCy's metrics of the pipeline at ``model_path`` on ``data_path`` (``spacy evaluate``)."""
    from spacy.cli.evaluate import evaluate as spacy_evaluate

    metrics = spacy_evaluate(str(model_path), str(data_path), use_gpu=gpu_id, silent=True)
    return json.loads(json.dumps(metrics, default=float))


def prediction_speed(
    model_path: PathLike,
    data_path: PathLike,
    *,
    gpu_id: int = -1,
    batch_size: int = PREDICT_BATCH_SIZE,
    repeats: int = 3,
) -> float:
    """Best-of-``repeats`` words/s of ``nlp.pipe`` over the (pre-tokenized) docs of ``data_path``."""
    import spacy
    from spacy.tokens import Doc, DocBin

    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    nlp = spacy.load(model_path)
    gold = list(DocBin().from_disk(data_path).get_docs(nlp.vocab))
    words = sum(len(doc) for doc in gold)

    def fresh() -> List[Doc]:
        return [Doc(nlp.vocab, words=[t.text for t in d], spaces=[bool(t.whitespace_) for t in d])
                for d in gold]

    best = float("inf")
    for _ in range(repeats):
        docs = fresh()
        start = time.perf_counter()
        for _doc in nlp.pipe(docs, batch_size=batch_size):
            pass
        best = min(best, time.perf_counter() - start)
    return words / best


class TrainingStopped(RuntimeError):
    """``spacy train`` was stopped on purpose (``on_record`` returned ``False``)."""

    def __init__(self, output_dir: Path, step: Optional[int]) -> None:
        super().__init__(f"training in {output_dir} stopped after the evaluation at step {step}")
        self.output_dir = output_dir
        self.step = step


def _train_process(
    cmd: List[str],
    output_dir: Path,
    log_path: Path,
    *,
    quiet: bool,
    env: Optional[Dict[str, str]],
    on_record: Optional[Callable[[Dict[str, Any]], Optional[bool]]],
) -> Tuple[int, List[str]]:
    """Run ``spacy train``: its output to ``train.log`` (and stdout unless ``quiet``), each new
    JSONL record to ``on_record`` (polled in this thread). Returns (exit code, last lines)."""
    tail: List[str] = []
    lock = threading.Lock()
    with (output_dir / "train.log").open("w", encoding="utf-8") as log:
        log.write(" ".join(cmd) + "\n")
        # the training dies with the thread that started it: when Ray Tune stops the trial's
        # actor, or when a grid's worker (or the driver it runs in) is killed
        preexec = die_with_parent if sys.platform == "linux" else None
        # cwd: the output dir, so that ``-m`` does not put a checkout's copy of spacy_dice ahead
        # of the one this process imports (same sys.path otherwise: PYTHONPATH is inherited)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                bufsize=1, cwd=str(output_dir),
                                env={**os.environ, **env} if env else None, preexec_fn=preexec)
        assert proc.stdout is not None
        stdout = proc.stdout

        def pump() -> None:
            nonlocal tail
            for line in stdout:
                with lock:
                    log.write(line)
                    tail = (tail + [line])[-40:]
                if not quiet:
                    sys.stdout.write(line)
                    sys.stdout.flush()

        seen, last_step = 0, None
        try:
            if on_record is None:
                pump()
                return proc.wait(), tail
            reader = threading.Thread(target=pump, daemon=True)
            reader.start()
            while True:
                finished = proc.poll() is not None
                records = _complete_records(log_path)
                for record in records[seen:]:
                    last_step = record.get("step")
                    if on_record(record) is False:
                        raise TrainingStopped(output_dir, last_step)
                seen = max(seen, len(records))
                if finished:
                    break
                time.sleep(0.2)
        except BaseException:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            raise
        reader.join()
        with lock:
            return proc.wait(), list(tail)


def die_with_parent() -> None:  # pragma: no cover - runs in a child process
    """Linux: SIGKILL this process when the thread that started it exits (``PR_SET_PDEATHSIG``)."""
    _LIBC.prctl(1, 9)


if sys.platform == "linux":
    import ctypes

    _LIBC = ctypes.CDLL(None)


def _complete_records(path: Path) -> List[Dict[str, Any]]:
    """The complete (newline-terminated) records of a JSONL log being written."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    lines = text.split("\n")[:-1]  # the last item: "" or a line still being written
    return [json.loads(line) for line in lines if line.strip()]


def run_training(
    config: Config,
    output_dir: PathLike,
    *,
    train_path: PathLike,
    dev_path: PathLike,
    test_path: Optional[PathLike] = None,
    gpu_id: int = -1,
    seed: int = 0,
    max_steps: Optional[int] = None,
    eval_frequency: Optional[int] = None,
    extra_overrides: Optional[Dict[str, Any]] = None,
    name: Optional[str] = None,
    component: Optional[str] = None,
    measure_speed: bool = True,
    quiet: bool = False,
    env: Optional[Dict[str, str]] = None,
    on_record: Optional[Callable[[Dict[str, Any]], Optional[bool]]] = None,
) -> RunResult:
    """Train ``config`` with ``python -m spacy train``, then evaluate ``model-best``.

    Writes ``output_dir/config.cfg`` (the config as given, with the JSONL logger), ``train.log``
    (spaCy's console output), ``train_log.jsonl`` (one record per evaluation), ``model-best``,
    ``model-last``, ``metrics.json`` and ``result.json``.

    ``test_path``: the held-out set to report (``scores``, ``metrics``, prediction speed);
    without it the scores are the best dev scores. ``extra_overrides``: more ``--section.key``
    overrides for ``spacy train`` (e.g. ``{"training.patience": 0}``). ``name``: the row label
    (default: the loss preset's name, or ``spacy:<factory>`` without a loss block).
    ``env``: variables set for the ``spacy train`` process on top of this process's environment
    (e.g. ``OMP_NUM_THREADS``). ``on_record``: called in this thread with each record of the
    JSONL log as soon as it is written (one per evaluation; Ray Tune's reporting hook); if it
    returns ``False`` or raises, ``spacy train`` is stopped and :class:`TrainingStopped` (or the
    exception) is raised.

    Raises:
        RuntimeError: ``spacy train`` failed (the message has the tail of its output).
        TrainingStopped: ``on_record`` returned ``False``.
    """
    output_dir = Path(output_dir).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    train_path, dev_path = Path(train_path).resolve(), Path(dev_path).resolve()
    test_path = Path(test_path).resolve() if test_path is not None else None
    config = Config(config).copy()
    component = component or _trainable_component(config)
    section = config["components"][component]
    loss = section.get("loss")
    factory = section.get("factory", "?")
    name = name or _default_name(loss, factory)
    log_path = output_dir / "train_log.jsonl"
    if log_path.exists():
        log_path.unlink()
    config.setdefault("training", {})["logger"] = {
        "@loggers": "spacy-dice.JsonlLogger.v1",
        "output_file": str(log_path),
        "progress_bar": None,
        "console_output": True,
    }
    config_path = output_dir / "config.cfg"
    config.to_disk(config_path)

    overrides: Dict[str, Any] = {
        "paths.train": str(train_path),
        "paths.dev": str(dev_path),
        "system.seed": seed,
        "training.seed": seed,
    }
    for split, path in (("train", train_path), ("dev", dev_path)):
        # an interpolated config (Config().from_disk(path) interpolates by default) no longer
        # refers to ${paths.X}: override the corpus reader's path itself then
        reader = config.get("corpora", {}).get(split, {})
        if "path" in reader and reader["path"] != "${paths.%s}" % split:
            overrides[f"corpora.{split}.path"] = str(path)
    if max_steps is not None:
        overrides["training.max_steps"] = max_steps
    if eval_frequency is not None:
        overrides["training.eval_frequency"] = eval_frequency
    overrides.update(extra_overrides or {})
    cmd = [sys.executable, "-m", "spacy", "train", str(config_path), "--output", str(output_dir),
           "--code", str(LOGGER_FILE), "--gpu-id", str(gpu_id)]
    for key, value in overrides.items():
        cmd += [f"--{key}", value if isinstance(value, str) else json.dumps(value)]

    start = time.perf_counter()
    code, tail = _train_process(cmd, output_dir, log_path, quiet=quiet, env=env, on_record=on_record)
    wall = time.perf_counter() - start
    if code != 0:
        raise RuntimeError(f"spacy train failed ({code}) in {output_dir}:\n{''.join(tail)}")

    records = read_log(log_path)
    dev_words = count_words(dev_path)
    wps, train_s = train_speed(records, dev_words)
    curve = [(int(r["step"]), float(r["score"])) for r in records]
    best = max(records, key=lambda r: (r["score"], -r["step"])) if records else None
    model_best = output_dir / "model-best"
    result = RunResult(
        name=name, component=component, factory=factory, loss=loss, seed=seed,
        max_steps=max_steps, dev_curve=curve, train_words_per_s=wps, train_seconds=train_s,
        wall_seconds=wall, best_dev_score=best["score"] if best else None,
        best_step=best["step"] if best else None, command=cmd, code_digest=code_digest(),
        paths={"output_dir": str(output_dir), "config": str(config_path),
               "model_best": str(model_best), "model_last": str(output_dir / "model-last"),
               "log": str(log_path), "train_log": str(output_dir / "train.log")},
    )
    if test_path is not None:
        result.metrics = evaluate(model_best, test_path, gpu_id)
        result.eval_set = str(test_path)
        if measure_speed:
            result.predict_words_per_s = prediction_speed(model_best, test_path, gpu_id=gpu_id)
    elif best is not None:
        result.metrics = best["scores"]
    if best is not None:
        result.dev_scores = headline_scores(best["scores"])[0]
    result.scores, result.per_type = headline_scores(result.metrics)
    (output_dir / "metrics.json").write_text(json.dumps(result.metrics, indent=2))
    (output_dir / "result.json").write_text(json.dumps(result.to_dict(), indent=2))
    result.paths["metrics"] = str(output_dir / "metrics.json")
    return result
