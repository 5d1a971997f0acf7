"""The generic ``iob`` converter: token ... tag columns, IOB1/IOB2/BILUO, -DOCSTART-, # tokens."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spacy.tokens import DocBin
from typer.testing import CliRunner

from conftest import examples
from spacy_dice.cli import app
from spacy_dice.corpus import CorpusFormatError, convert_file, read_corpus
from spacy_dice.corpus.iob import biluo_spans, read_iob

from test_corpus_cli import Result
from test_corpus_fuzz import VOCAB, inputs


def write(tmp_path: Path, text: str, name: str = "own.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def ents(doc):
    return [(ent.text, ent.label_) for ent in doc.ents]


def test_tab_iob2_with_middle_columns_and_docstart(tmp_path):
    path = write(tmp_path, "-DOCSTART-\t-X-\tO\n\nJohn\tNNP\tB-PER\nSmith\tNNP\tI-PER\nlives\tVBZ\tO\n\n"
                           "-DOCSTART-\t-X-\tO\nin\tIN\tO\nNew York\tNNP\tB-LOC\n")
    docs = read_iob(path)
    out = list(docs)
    assert [d.text for d in out] == ["John Smith lives", "in New York"]
    assert [ents(d) for d in out] == [[("John Smith", "PER")], [("New York", "LOC")]]
    assert [t.text for t in out[1]] == ["in", "New York"]  # tab files: spaces inside tokens
    assert docs.scheme == "iob2"


def test_space_separated_aligned_iob1(tmp_path):
    path = write(tmp_path, "EU      I-ORG\nrejects O\nGerman  I-MISC\ncall    O\n")
    docs = read_iob(path)
    (doc,) = list(docs)
    assert ents(doc) == [("EU", "ORG"), ("German", "MISC")]
    assert docs.scheme == "iob1"


def test_hashtags_are_tokens_unless_comments_asked(tmp_path):
    path = write(tmp_path, "#love\tO\n#Paris\tB-LOC\n\n")
    (doc,) = list(read_iob(path))
    assert [t.text for t in doc] == ["#love", "#Paris"]
    assert ents(doc) == [("#Paris", "LOC")]
    with_comments = write(tmp_path, "# sent_id = 1\n# text = Hi,Paris\nHi\tO\n,\tO\nParis\tB-LOC\n", "c.txt")
    (doc,) = list(read_iob(with_comments, comments=True))
    assert doc.text == "Hi,Paris"  # spacing from the # text comment
    with pytest.raises(CorpusFormatError, match=r"c.txt:3: .*first token line \(line 1: '# sent_id = 1'\).*give --comments"):
        list(read_iob(with_comments))


@pytest.mark.parametrize("tags,expected", [
    (["B-PER", "L-PER", "O", "U-LOC"], [(0, 2, "PER"), (3, 4, "LOC")]),
    (["B-PER", "I-PER", "E-PER", "S-ORG"], [(0, 3, "PER"), (3, 4, "ORG")]),
    (["O", "O"], []),
])
def test_biluo_spans(tags, expected):
    assert biluo_spans(tags) == expected


@pytest.mark.parametrize("tags,index,reason", [
    (["B-PER", "O"], 1, "open PER entity"),
    (["B-PER"], 0, "ends inside a PER entity"),
    (["L-PER"], 0, "after the start of the sentence"),
    (["B-PER", "I-LOC"], 1, "may only follow B-LOC or I-LOC"),
    (["U-"], 0, "invalid NER tag"),
    (["X-PER"], 0, "invalid NER tag"),
])
def test_biluo_errors(tags, index, reason):
    with pytest.raises(ValueError) as err:
        biluo_spans(tags)
    assert err.value.args[0] == index and reason in err.value.args[1]


def test_biluo_file_and_scheme_detection(tmp_path):
    path = write(tmp_path, "Ann B-PER\nLee L-PER\nin O\nRome U-LOC\n\nok O\n")
    docs = read_iob(path)
    assert [ents(d) for d in docs] == [[("Ann Lee", "PER"), ("Rome", "LOC")], []]
    assert docs.scheme == "biluo"


def test_mixed_schemes_refused_in_auto(tmp_path):
    path = write(tmp_path, "Ann B-PER\nLee I-PER\n\nRome U-LOC\n")
    with pytest.raises(CorpusFormatError, match=r"own.txt:4: the file mixes tag schemes"):
        list(read_iob(path))


def test_given_scheme_is_strict(tmp_path):
    path = write(tmp_path, "in O\nRome I-LOC\n")
    with pytest.raises(CorpusFormatError, match=r"own.txt:2: NER tag 'I-LOC' after 'O': in IOB2"):
        list(read_iob(path, scheme="iob2"))
    assert ents(next(iter(read_iob(path, scheme="iob1")))) == [("Rome", "LOC")]
    with pytest.raises(CorpusFormatError, match=r"own.txt:2: NER tag 'I-LOC' after 'O': in BILUO"):
        list(read_iob(path, scheme="biluo"))


@pytest.mark.parametrize("text,line,reason", [
    ("a\tO\nb\tc\tO\n", 2, "expected 2 tab-separated columns"),
    ("a O\nb\tO\n", 2, "found a tab"),
    ("a\tO\nb\n", 2, "expected at least 2 tab-separated columns"),
    ("a\n", 1, "expected at least 2 space-separated columns"),
    ("a\tO\n\tO\n", 2, "expected a token in the first column"),
    ("a\tO\nb\t\n", 2, "expected a tag in the last column"),
    ("a\tB-\n", 1, "the entity type is missing"),
    ("a\tQ-PER\n", 1, "invalid NER tag"),
    ("\x0b", 1, "expected at least 2 space-separated columns"),  # found by the fuzzer
])
def test_format_errors(tmp_path, text, line, reason):
    path = write(tmp_path, text)
    with pytest.raises(CorpusFormatError) as err:
        list(read_iob(path))
    assert str(err.value).startswith(f"own.txt:{line}: ") and reason in str(err.value)


def test_crlf_bom_limit_and_non_utf8(tmp_path):
    path = write(tmp_path, "\ufeffa\tB-X\r\nb\tO\r\n\r\n\r\nc\tO\r\n")
    assert [d.text for d in read_iob(path)] == ["a b", "c"]
    assert [d.text for d in read_iob(path, limit=1)] == ["a b"]
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"a\tO\n\xff\tO\n")
    with pytest.raises(CorpusFormatError, match=r"bad.txt:2: expected UTF-8"):
        list(read_iob(bad))


def test_unknown_scheme_and_option(tmp_path):
    path = write(tmp_path, "a\tO\n")
    with pytest.raises(ValueError, match="unknown tag scheme 'bio'"):
        read_iob(path, scheme="bio")
    with pytest.raises(ValueError, match="format uner has no option 'scheme'"):
        read_corpus("uner", path, scheme="iob1")


def test_convert_file_counts_scheme_and_atomic_write(tmp_path):
    path = write(tmp_path, "Ann\tB-PER\nLee\tI-PER\n\nRome\tB-LOC\n")
    out = tmp_path / "out" / "train.spacy"
    stats = convert_file("iob", path, out)
    assert stats["scheme"] == "iob2" and stats["entities"] == {"PER": 1, "LOC": 1}
    assert stats["documents"] == 2 and stats["tokens"] == 3
    docs = list(DocBin().from_disk(out).get_docs(VOCAB))
    assert [ents(d) for d in docs] == [[("Ann Lee", "PER")], [("Rome", "LOC")]]
    before = out.read_bytes()
    broken = write(tmp_path, "Ann\tB-PER\nLee\tL-LOC\n", "broken.txt")
    with pytest.raises(CorpusFormatError):
        convert_file("iob", broken, out)
    assert out.read_bytes() == before and sorted(p.name for p in out.parent.iterdir()) == ["train.spacy"]


def test_cli_iob_options(tmp_path):
    runner = CliRunner()
    path = write(tmp_path, "# c\nAnn\tU-PER\n")
    out = tmp_path / "o.spacy"
    result = Result(runner.invoke(app, ["convert", "iob", str(path), str(out), "--comments"]))
    assert result.exit_code == 0, result.output
    assert "Tag scheme: biluo" in result.output and "PER 1" in result.output
    result = Result(runner.invoke(app, ["convert", "iob", str(path), str(out)]))
    assert result.exit_code == 1 and "own.txt:2:" in result.output
    result = Result(runner.invoke(app, ["convert", "uner", str(path), str(out), "--scheme", "iob1"]))
    assert result.exit_code != 0 and "--scheme is only supported for iob" in result.output


FUZZ = settings(max_examples=examples(150), deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(content=inputs("iob"), scheme=st.sampled_from(["auto", "iob1", "iob2", "biluo"]), comments=st.booleans())
def test_fuzz_iob_options(content, scheme, comments):
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "input.txt"
        source.write_bytes(content)
        out = Path(tmp) / "out" / "corpus.spacy"
        try:
            stats = convert_file("iob", source, out, scheme=scheme, comments=comments)
        except CorpusFormatError as err:
            assert str(err).startswith("input.txt:"), str(err)
            assert not out.parent.exists() or list(out.parent.iterdir()) == []
            return
        docs = list(DocBin().from_disk(out).get_docs(VOCAB))
        assert len(docs) == stats["documents"] and all(len(d) for d in docs)
        assert stats["scheme"] in ("none", "iob1", "iob2", "biluo")


@pytest.mark.realdata
def test_iob_reads_conll2003_as_the_conll2003_reader_does():
    """CoNLL-2003 (word POS chunk NER, IOB1, -DOCSTART-) is a token ... tag file: same docs."""
    from realdata import DATA, skip_reason

    from spacy_dice.corpus import read_conll2003

    path = DATA / "conll2003" / "eng.testa"
    if not path.is_file():
        pytest.skip(skip_reason(path))
    docs = read_iob(path)
    mine = [([t.text for t in d], [(e.start, e.end, e.label_) for e in d.ents]) for d in docs]
    theirs = [([t.text for t in d], [(e.start, e.end, e.label_) for e in d.ents]) for d in read_conll2003(path)]
    assert len(mine) == 3250 and mine == theirs
    assert docs.scheme == "iob1"
