"""Fuzzing the readers: random bytes/text and cut or altered valid input either convert
or raise CorpusFormatError, never another exception, and never leave a partial file."""
from __future__ import annotations

import tempfile
from pathlib import Path

import spacy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spacy.tokens import DocBin

from conftest import examples
from spacy_dice.corpus import CorpusFormatError, convert_file

VALID = {
    "conll2003": (
        "-DOCSTART- -X- O O\n\nEU NNP I-NP I-ORG\nrejects VBZ I-VP O\nGerman JJ I-NP I-MISC\n\n"
        "Peter NNP I-NP I-PER\nBlackburn NNP I-NP I-PER\n\nHapoel NNP I-NP I-ORG\nHaifa NNP I-NP B-ORG\n"
    ),
    "conllu": (
        "# sent_id = 1\n# text = don't go.\n1-2\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n"
        "1\tdo\tdo\tAUX\tVBP\t_\t3\taux\t_\t_\n2\tn't\tnot\tPART\tRB\t_\t3\tadvmod\t_\t_\n"
        "3\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\tSpaceAfter=No\n3.1\tx\tx\tX\tFW\t_\t_\t_\t_\t_\n"
        "4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_\n\n1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n"
    ),
    "uner": (
        "# sent_id = 1\n# text = John Smith in tampa bay.\n1\tJohn\tB-PER\t-\ta\n2\tSmith\tI-PER\t-\ta\n"
        "3\tin\tO\t-\t-\n4\ttampa\tB-LOC\t-\ta\n5\tbay\tI-LOC\t-\ta\n6\t.\tO\t-\t-\n\n"
        "1\tMary\tB-PER\t-\t-\n"
    ),
    "iob": (
        "-DOCSTART-\tO\n\n#hashtag\tX\tO\nJohn Smith\tX\tB-PER\nin\tX\tO\ntampa\tX\tI-LOC\nbay\tX\tI-LOC\n\n"
        "Mary\tX\tI-PER\n\n"
    ),
    "mrpc": (
        "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
        '1\t702876\t702977\tAmrozi called "the witness".\tHe said "the witness".\n'
        "0\t2108705\t2108831\tYucaipa owned it.\tYucaipa bought it.\n"
    ),
    "sst2": "label\tsentence\r\n0\thide new secretions \r\n1\tthe greatest musicians\r\n",
}

# Pieces of each format's syntax, so that random text gets past the first checks.
FRAGMENTS = {
    "conll2003": ["EU", "NNP", "I-NP", "I-ORG", "B-PER", "B-", "X-PER", "O", "-DOCSTART-", " ", "  ", "\t", "\n", "\r\n", "\n\n", "é", "\x00", "\ufeff"],
    "conllu": ["1", "2", "1-2", "1.1", "0", "x", "NOUN", "FOO", "_", "NN", "SpaceAfter=No", "# c", "\t", " ", "\n", "\r\n", "\n\n", "\ufeff"],
    "uner": ["1", "2", "3", "John", "B-PER", "I-PER", "I-LOC", "O", "B-", "X-PER", "-", "# text = John", "\t", " ", "\n", "\r\n", "\n\n"],
    "iob": ["John", "#x", "# text = a", "-DOCSTART-", "B-PER", "I-PER", "L-PER", "U-LOC", "E-X", "S-X", "O", "B-", "X-PER", "\t", " ", "  ", "\n", "\r\n", "\n\n", "\ufeff"],
    "mrpc": ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String", "0", "1", "2", "12", "a b.", '"', "\t", " ", "\n", "\r\n", "\ufeff"],
    "sst2": ["label", "sentence", "content", "0", "1", "yes", "good film", " ", "\t", "\n", "\r\n", "\ufeff", "\x85", "\u2028"],
}


def inputs(fmt: str):
    valid = VALID[fmt].encode("utf-8")
    truncated = st.integers(0, len(valid)).map(lambda n: valid[:n])
    altered = st.tuples(st.integers(0, len(valid) - 1), st.binary(min_size=0, max_size=3)).map(
        lambda t: valid[: t[0]] + t[1] + valid[t[0] + 1 :]
    )
    # Whole lines of the valid sample, dropped, repeated and reordered: mostly valid
    # input, with tag sequences and id sequences that may or may not hold.
    lines = VALID[fmt].splitlines()
    reordered = st.lists(st.sampled_from(lines + [""]), max_size=30).map(
        lambda xs: "\n".join(xs).encode("utf-8")
    )
    cut_at_line = st.integers(0, len(lines)).map(lambda n: "\n".join(lines[:n]).encode("utf-8"))
    pieces = st.lists(st.sampled_from(FRAGMENTS[fmt]), max_size=40).map(lambda xs: "".join(xs).encode("utf-8"))
    return st.one_of(
        st.binary(max_size=300),
        st.text(max_size=200).map(lambda s: s.encode("utf-8")),
        truncated,
        cut_at_line,
        altered,
        reordered,
        pieces,
    )


def check_one(fmt: str, content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "input.txt"
        source.write_bytes(content)
        out = Path(tmp) / "out" / "corpus.spacy"
        try:
            stats = convert_file(fmt, source, out)
        except CorpusFormatError as err:
            assert str(err).startswith("input.txt:"), str(err)
            assert not out.parent.exists() or list(out.parent.iterdir()) == []
            return
        assert sorted(p.name for p in out.parent.iterdir()) == ["corpus.spacy"]
        docs = list(DocBin().from_disk(out).get_docs(VOCAB))
        assert len(docs) == stats["documents"]
        assert all(len(doc) > 0 for doc in docs)


VOCAB = spacy.blank("en").vocab
FUZZ = settings(
    max_examples=examples(200),  # 40 in the fast tier (tests/conftest.py)
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


def test_valid_samples_convert():
    for fmt in VALID:
        check_one(fmt, VALID[fmt].encode("utf-8"))


@FUZZ
@given(content=inputs("conll2003"))
def test_fuzz_conll2003(content):
    check_one("conll2003", content)


@FUZZ
@given(content=inputs("conllu"))
def test_fuzz_conllu(content):
    check_one("conllu", content)


@FUZZ
@given(content=inputs("uner"))
def test_fuzz_uner(content):
    check_one("uner", content)


@FUZZ
@given(content=inputs("mrpc"))
def test_fuzz_mrpc(content):
    check_one("mrpc", content)


@FUZZ
@given(content=inputs("sst2"))
def test_fuzz_sst2(content):
    check_one("sst2", content)


@FUZZ
@given(content=inputs("iob"))
def test_fuzz_iob(content):
    check_one("iob", content)
