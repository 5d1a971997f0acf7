"""``spacy-dice.JsonlLogger.v1``: spaCy's console table plus one JSON line per evaluation.

Each line holds ``step``, ``epoch``, ``score``, ``scores`` (the numeric dev scores, spaCy's
keys, per-type dicts kept), ``losses``, ``words`` (training words seen so far), ``seconds``
(float wall time since the logger was set up) and ``dev_words_per_s`` (spaCy's ``speed``).
The runner derives training words/s from it, minus the evaluation time.

Registered through the ``spacy_loggers`` entry point (setup.cfg): a config with
``@loggers = "spacy-dice.JsonlLogger.v1"`` trains with plain ``spacy train`` once spacy-dice is
installed, no ``--code``.
"""
import json
import sys
import time
from pathlib import Path
from typing import IO, Any, Dict, Optional, Union

from spacy import util
from spacy.training.loggers import console_logger_v3


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (int, float, str)) or value is None:
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


@util.registry.loggers("spacy-dice.JsonlLogger.v1")
def jsonl_logger(
    output_file: Union[str, Path],
    progress_bar: Optional[str] = None,
    console_output: bool = True,
):
    console = console_logger_v3(progress_bar=progress_bar, console_output=console_output)

    def setup_printer(nlp, stdout: IO = sys.stdout, stderr: IO = sys.stderr):
        log_console, finalize_console = console(nlp, stdout, stderr)
        path = Path(output_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        stream = open(path, "w", encoding="utf-8")
        start = time.perf_counter()

        def log_step(info: Optional[Dict[str, Any]]) -> None:
            log_console(info)
            if info is None:
                return
            scores = info.get("other_scores") or {}
            record = {
                "step": info["step"],
                "epoch": info["epoch"],
                "score": float(info["score"]),
                "scores": _plain(scores),
                "losses": _plain(info.get("losses") or {}),
                "words": info.get("words"),
                "seconds": time.perf_counter() - start,
                "dev_words_per_s": _plain(scores.get("speed")),
            }
            stream.write(json.dumps(record) + "\n")
            stream.flush()

        def finalize() -> None:
            finalize_console()
            stream.close()

        return log_step, finalize

    return setup_printer
