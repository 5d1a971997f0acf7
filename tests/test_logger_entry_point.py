"""The JSONL training logger is found through its entry point, without ``--code`` or an import."""
import json

import pytest

from fresh_python import fresh_python


@pytest.mark.slow
def test_logger_resolves_in_a_fresh_interpreter_without_import(tmp_path):
    out = tmp_path / "log.jsonl"
    code = (
        "import sys, spacy\n"
        "from thinc.api import Config\n"
        f"cfg = Config({{'l': {{'@loggers': 'spacy-dice.JsonlLogger.v1', 'output_file': {str(out)!r}}}}})\n"
        "setup = spacy.registry.resolve(cfg)['l']\n"
        "assert callable(setup)\n"
        "print('imported by resolve:', 'spacy_dice.training.logger' in sys.modules)\n"
    )
    # cwd = tmp_path: the checkout is not on sys.path, only the installed package's entry points
    run = fresh_python(["-c", code], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "imported by resolve: True" in run.stdout  # imported by the registry, through the entry point


def test_logger_writes_one_json_line_per_evaluation(tmp_path):
    import spacy
    from thinc.api import Config

    out = tmp_path / "log.jsonl"
    setup = spacy.registry.resolve(Config({"l": {"@loggers": "spacy-dice.JsonlLogger.v1",
                                                 "output_file": str(out), "console_output": False}}))["l"]
    nlp = spacy.blank("en")
    log, finalize = setup(nlp)
    log({"epoch": 0, "step": 3, "score": 0.5, "other_scores": {"ents_f": 0.5}, "losses": {"ner": 1.0},
         "checkpoints": [], "seconds": 1, "words": 10})
    finalize()
    (line,) = out.read_text().splitlines()
    record = json.loads(line)
    assert record["step"] == 3 and record["score"] == 0.5
