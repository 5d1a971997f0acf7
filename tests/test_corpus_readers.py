"""The corpus readers on small files written by the tests: valid input and each malformed case."""
from __future__ import annotations

from pathlib import Path
from typing import List, Union

import pytest
import spacy
from spacy.tokens import Doc, DocBin

from spacy_dice.corpus import (
    PAIR_SEPARATOR,
    SOURCE_DOC,
    CorpusFormatError,
    convert_file,
    make_pair_text,
    read_conll2003,
    read_conllu,
    read_corpus,
    read_mrpc,
    read_sst2,
    read_uner,
    write_docbin,
)
from spacy_dice.corpus.tags import SpanBuilder

CONLL2003 = """-DOCSTART- -X- O O

EU NNP I-NP I-ORG
rejects VBZ I-VP O
German JJ I-NP I-MISC
call NN I-NP O
. . O O

Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- O O

Rome NNP I-NP I-LOC
and CC O O
Paris NNP I-NP I-LOC
, , O O
Hapoel NNP I-NP I-ORG
Haifa NNP I-NP B-ORG
"""

CONLLU = """# newdoc id = d1
# sent_id = s1
# text = Al-Zaman: don't go.
1\tAl\tAl\tPROPN\tNNP\t_\t0\troot\t0:root\tSpaceAfter=No
2\t-\t-\tPUNCT\tHYPH\t_\t3\tpunct\t3:punct\tSpaceAfter=No
3\tZaman\tZaman\tPROPN\tNNP\t_\t1\tflat\t1:flat\tSpaceAfter=No
4\t:\t:\tPUNCT\t:\t_\t1\tpunct\t1:punct\t_
5-6\tdon't\t_\t_\t_\t_\t_\t_\t_\t_
5\tdo\tdo\tAUX\tVBP\t_\t7\taux\t7:aux\t_
6\tn't\tnot\tPART\tRB\t_\t7\tadvmod\t7:advmod\t_
7\tgo\tgo\tVERB\tVB\t_\t1\tparataxis\t1:parataxis\tSpaceAfter=No
7.1\tgone\tgo\tVERB\tVBN\t_\t_\t_\t1:conj\t_
8\t.\t.\tPUNCT\t.\t_\t1\tpunct\t1:punct\t_

# sent_id = s2
1\tHi\thi\tINTJ\t_\t_\t0\troot\t0:root\t_
"""

UNER = """# newdoc id = d1
# sent_id = s1
# text = where can I get morcillas in tampa bay, please?
1\twhere\tO\t-\t-
2\tcan\tO\t-\t-
3\tI\tO\t-\t-
4\tget\tO\t-\t-
5\tmorcillas\tO\t-\t-
6\tin\tO\t-\t-
7\ttampa\tB-LOC\t-\tstephen
8\tbay\tI-LOC\t-\tstephen
9\t,\tO\t-\t-
10\tplease\tO\t-\t-
11\t?\tO\t-\t-

# sent_id = s2
# text = John Smith met Mary
1\tJohn\tB-PER\t-\t-
2\tSmith\tI-PER\t-\t-
3\tmet\tO\t-\t-
4\tMary\tB-PER\t-\t-
"""

MRPC = (
    "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
    '1\t702876\t702977\tAmrozi accused his brother, whom he called "the witness".\tReferring to him as "the witness", Amrozi accused his brother.\n'
    "0\t2108705\t2108831\tYucaipa owned Dominick's.\tYucaipa bought Dominick's in 1995.\n"
)

SST2 = "label\tsentence\r\n0\thide new secretions from the parental units \r\n1\tthe greatest musicians\r\n"
SST2_DEV = "label\tcontent\n1\tit 's a charming journey .\n"


def write(tmp_path: Path, name: str, content: Union[str, bytes]) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def out_dir_files(out: Path) -> List[str]:
    return sorted(p.name for p in out.parent.iterdir()) if out.parent.exists() else []


def assert_fails(fmt: str, path: Path, tmp_path: Path, *fragments: str) -> str:
    """convert_file raises CorpusFormatError naming all fragments and leaves no file."""
    out = tmp_path / "out" / "corpus.spacy"
    with pytest.raises(CorpusFormatError) as info:
        convert_file(fmt, path, out)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    assert out_dir_files(out) == [], out_dir_files(out)
    return message


def ents(doc: Doc):
    return [(ent.text, ent.label_) for ent in doc.ents]


# ---------------------------------------------------------------- tags


@pytest.mark.parametrize(
    "tags,expected",
    [
        (["I-PER", "I-PER", "O", "I-LOC"], [(0, 2, "PER"), (3, 4, "LOC")]),
        (["I-LOC", "B-LOC", "I-LOC"], [(0, 1, "LOC"), (1, 3, "LOC")]),
        (["I-ORG", "I-LOC"], [(0, 1, "ORG"), (1, 2, "LOC")]),
        (["O", "I-MISC"], [(1, 2, "MISC")]),
        (["B-PER", "I-PER"], [(0, 2, "PER")]),
    ],
)
def test_iob1_spans(tags, expected):
    builder = SpanBuilder("iob1")
    for tag in tags:
        builder.add(tag)
    assert builder.finish() == expected


@pytest.mark.parametrize("tags", [["O", "I-PER"], ["I-PER"], ["B-PER", "I-LOC"]])
def test_iob2_rejects_i_without_b(tags):
    builder = SpanBuilder("iob2")
    with pytest.raises(ValueError, match="IOB2"):
        for tag in tags:
            builder.add(tag)


@pytest.mark.parametrize("tag,reason", [("B-", "type is missing"), ("X-PER", "prefix 'X'"), ("PER", "expected O"), ("o", "expected O")])
def test_invalid_tags(tag, reason):
    with pytest.raises(ValueError, match=reason):
        SpanBuilder("iob1").add(tag)


# ---------------------------------------------------------------- CoNLL-2003


def test_conll2003_reads_sentences_entities_tags(tmp_path):
    docs = list(read_conll2003(write(tmp_path, "eng.train", CONLL2003)))
    assert [d.text for d in docs] == [
        "EU rejects German call .",
        "Peter Blackburn",
        "Rome and Paris , Hapoel Haifa",
    ]
    assert ents(docs[0]) == [("EU", "ORG"), ("German", "MISC")]
    assert ents(docs[1]) == [("Peter Blackburn", "PER")]
    # IOB1: B-ORG separates two adjacent ORG entities
    assert ents(docs[2]) == [("Rome", "LOC"), ("Paris", "LOC"), ("Hapoel", "ORG"), ("Haifa", "ORG")]
    assert [t.tag_ for t in docs[0]] == ["NNP", "VBZ", "JJ", "NN", "."]
    assert all(t.ent_iob_ in ("B", "I", "O") for d in docs for t in d)  # fully annotated
    assert "-DOCSTART-" not in " ".join(d.text for d in docs)


def test_conll2003_n_sents_groups_within_documents(tmp_path):
    path = write(tmp_path, "eng.train", CONLL2003)
    docs = list(read_conll2003(path, n_sents=10))
    assert len(docs) == 2  # never across -DOCSTART-
    assert docs[0].text == "EU rejects German call . Peter Blackburn"
    assert [s.text for s in docs[0].sents] == ["EU rejects German call .", "Peter Blackburn"]
    assert ents(docs[0])[-1] == ("Peter Blackburn", "PER")
    stats = convert_file("conll2003", path, tmp_path / "o.spacy", n_sents=10)
    assert (stats["documents"], stats["sentences"], stats["tokens"]) == (2, 3, 13)
    assert stats["entities"] == {"LOC": 2, "ORG": 3, "MISC": 1, "PER": 1}


def test_conll2003_limit(tmp_path):
    path = write(tmp_path, "eng.train", CONLL2003)
    assert len(list(read_conll2003(path, limit=2))) == 2
    assert len(list(read_conll2003(path, limit=2, n_sents=5))) == 1
    assert list(read_conll2003(path, limit=0)) == []
    with pytest.raises(ValueError):
        read_conll2003(path, n_sents=0)


def test_conll2003_iob1_i_after_o_is_legal(tmp_path):
    path = write(tmp_path, "eng.train", "the DT I-NP O\nEU NNP I-NP I-ORG\n")
    assert ents(next(read_conll2003(path))) == [("EU", "ORG")]


def test_conll2003_wrong_column_count(tmp_path):
    path = write(tmp_path, "eng.train", "EU NNP I-NP I-ORG\nrejects VBZ\n")
    assert_fails(
        "conll2003", path, tmp_path,
        "eng.train:2:", "expected 4 space-separated columns (word POS chunk NER), found 2", "'rejects VBZ'",
    )


def test_conll2003_double_space_hint(tmp_path):
    path = write(tmp_path, "eng.train", "EU  NNP I-NP I-ORG\n")
    assert_fails("conll2003", path, tmp_path, "eng.train:1:", "found 5", "two consecutive spaces")


def test_conll2003_tabs_instead_of_spaces(tmp_path):
    path = write(tmp_path, "eng.train", "\nEU\tNNP\tI-NP\tI-ORG\n")
    assert_fails("conll2003", path, tmp_path, "eng.train:2:", "space-separated", "not tabs")


@pytest.mark.parametrize("tag,reason", [("B-", "type is missing"), ("X-PER", "prefix 'X'"), ("I_PER", "expected O, B-TYPE or I-TYPE")])
def test_conll2003_invalid_tag(tmp_path, tag, reason):
    path = write(tmp_path, "eng.train", f"EU NNP I-NP I-ORG\n\nBonn NNP I-NP {tag}\n")
    assert_fails("conll2003", path, tmp_path, "eng.train:3:", repr(tag), reason)


def test_conll2003_non_utf8(tmp_path):
    path = write(tmp_path, "eng.train", b"EU NNP I-NP I-ORG\nK\xf6ln NNP I-NP I-LOC\n")
    assert_fails("conll2003", path, tmp_path, "eng.train:2:", "expected UTF-8", "f6", "byte 2 of the line", "offset 19")


def test_conll2003_crlf_bom_blank_lines_truncated_long(tmp_path):
    long_word = "x" * 200_000
    content = (
        "\ufeff-DOCSTART- -X- O O\r\n\r\n\r\n\r\nEU NNP I-NP I-ORG\r\n\r\n \r\n\n"
        f"{long_word} NN I-NP O\nlast NN I-NP I-PER"  # no trailing newline
    )
    docs = list(read_conll2003(write(tmp_path, "eng.train", content)))
    assert [len(d) for d in docs] == [1, 2]
    assert docs[0][0].text == "EU" and ents(docs[0]) == [("EU", "ORG")]
    assert docs[1][0].text == long_word and ents(docs[1]) == [("last", "PER")]


def test_conll2003_empty_and_docstart_only_file(tmp_path):
    assert list(read_conll2003(write(tmp_path, "a", ""))) == []
    assert list(read_conll2003(write(tmp_path, "b", "-DOCSTART- -X- O O\n\n\n"))) == []


# ---------------------------------------------------------------- CoNLL-U


def test_conllu_pos_tags_spaces_mwt_empty_nodes(tmp_path):
    docs = list(read_conllu(write(tmp_path, "ewt.conllu", CONLLU)))
    assert len(docs) == 2
    doc = docs[0]
    assert [t.text for t in doc] == ["Al", "-", "Zaman", ":", "do", "n't", "go", "."]
    assert doc.text == "Al-Zaman: don't go."
    assert [t.pos_ for t in doc][:5] == ["PROPN", "PUNCT", "PROPN", "PUNCT", "AUX"]
    assert [t.tag_ for t in doc][:5] == ["NNP", "HYPH", "NNP", ":", "VBP"]
    assert docs[1].text == "Hi" and docs[1][0].pos_ == "INTJ" and docs[1][0].tag_ == ""


def test_conllu_limit_crlf_bom(tmp_path):
    path = write(tmp_path, "ewt.conllu", "\ufeff" + CONLLU.replace("\n", "\r\n"))
    docs = list(read_conllu(path, limit=1))
    assert len(docs) == 1 and docs[0].text == "Al-Zaman: don't go."


def test_conllu_wrong_columns_and_spaces(tmp_path):
    path = write(tmp_path, "ewt.conllu", "# c\n1\tHi\thi\tINTJ\n")
    assert_fails("conllu", path, tmp_path, "ewt.conllu:2:", "expected 10 tab-separated columns (ID, FORM,", "found 4")
    path = write(tmp_path, "ewt.conllu", "1 Hi hi INTJ UH _ 0 root 0:root _\n")
    assert_fails("conllu", path, tmp_path, "ewt.conllu:1:", "found 1", "separated by tabs")


@pytest.mark.parametrize(
    "line,reason",
    [
        ("2\tHi\thi\tINTJ\tUH\t_\t0\troot\t0:root\t_", "expected word id 1"),
        ("x\tHi\thi\tINTJ\tUH\t_\t0\troot\t0:root\t_", "expected a word id"),
        ("1\tHi\thi\tFOO\tUH\t_\t0\troot\t0:root\t_", "expected a Universal POS tag"),
        ("1\t\thi\tINTJ\tUH\t_\t0\troot\t0:root\t_", "found an empty column"),
        ("2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_", "multiword range starting at word 1"),
    ],
)
def test_conllu_malformed_word_line(tmp_path, line, reason):
    path = write(tmp_path, "ewt.conllu", f"# sent_id = 1\n{line}\n")
    assert_fails("conllu", path, tmp_path, "ewt.conllu:2:", reason)


def test_conllu_sentence_ending_inside_range(tmp_path):
    path = write(tmp_path, "ewt.conllu", "1-2\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n1\tdo\tdo\tAUX\tVBP\t_\t0\troot\t_\t_\n\n")
    assert_fails("conllu", path, tmp_path, "ewt.conllu:3:", "inside a multiword token")


def test_conllu_non_utf8(tmp_path):
    path = write(tmp_path, "ewt.conllu", b"# text = \xff\xfe\n")
    assert_fails("conllu", path, tmp_path, "ewt.conllu:1:", "expected UTF-8", "ff")


# ---------------------------------------------------------------- UNER


def test_uner_entities_and_spaces(tmp_path):
    docs = list(read_uner(write(tmp_path, "dev.iob2", UNER)))
    assert len(docs) == 2
    assert ents(docs[0]) == [("tampa bay", "LOC")]
    assert docs[0].text == "where can I get morcillas in tampa bay, please?"  # spaces from # text
    assert ents(docs[1]) == [("John Smith", "PER"), ("Mary", "PER")]
    assert all(t.ent_iob_ in ("B", "I", "O") for d in docs for t in d)


def test_uner_crlf_bom_truncated_blank_lines(tmp_path):
    content = "\ufeff\r\n\r\n" + UNER.replace("\n", "\r\n").rstrip("\r\n")
    docs = list(read_uner(write(tmp_path, "dev.iob2", content)))
    assert [len(d) for d in docs] == [11, 4]


@pytest.mark.parametrize(
    "tags,line,reason",
    [
        (["O", "I-PER"], 3, "'I-PER' after 'O'"),
        (["I-PER", "O"], 2, "after the start of the sentence"),
        (["B-LOC", "I-PER"], 3, "'I-PER' after 'B-LOC'"),
        (["B-", "O"], 2, "type is missing"),
        (["X-PER", "O"], 2, "prefix 'X'"),
    ],
)
def test_uner_invalid_tags(tmp_path, tags, line, reason):
    rows = "".join(f"{i}\tw{i}\t{tag}\t-\t-\n" for i, tag in enumerate(tags, 1))
    path = write(tmp_path, "dev.iob2", "# text = w1 w2\n" + rows)
    assert_fails("uner", path, tmp_path, f"dev.iob2:{line}:", reason)


def test_uner_wrong_columns_spaces_ids(tmp_path):
    path = write(tmp_path, "dev.iob2", "1\tJohn\tB-PER\n")
    assert_fails("uner", path, tmp_path, "dev.iob2:1:", "expected 5 tab-separated columns (id, token, tag, -, annotator), found 3")
    path = write(tmp_path, "dev.iob2", "1 John B-PER - -\n")
    assert_fails("uner", path, tmp_path, "dev.iob2:1:", "separated by tabs")
    path = write(tmp_path, "dev.iob2", "1\tJohn\tB-PER\t-\t-\n3\tSmith\tI-PER\t-\t-\n")
    assert_fails("uner", path, tmp_path, "dev.iob2:2:", "expected token id 2", "'3'")


def test_uner_non_utf8(tmp_path):
    path = write(tmp_path, "dev.iob2", b"1\tJohn\tB-PER\t-\t-\n2\t\x80\tO\t-\t-\n")
    assert_fails("uner", path, tmp_path, "dev.iob2:2:", "expected UTF-8", "80")


# ---------------------------------------------------------------- MRPC


def test_pair_separator():
    assert PAIR_SEPARATOR == " ||| "
    assert make_pair_text(" a b ", "c") == "a b ||| c"
    assert "|||" in [t.text for t in spacy.blank("en")(make_pair_text("a.", "b."))]


def test_mrpc_pairs_cats_no_quoting(tmp_path):
    docs = list(read_mrpc(write(tmp_path, "msr.txt", MRPC)))
    assert len(docs) == 2
    assert docs[0].text.startswith('Amrozi accused his brother, whom he called "the witness". ||| Referring')
    assert docs[0].cats == {"paraphrase": 1.0, "not_paraphrase": 0.0}
    assert docs[1].cats == {"paraphrase": 0.0, "not_paraphrase": 1.0}
    # An unclosed quote would swallow the next lines with csv's default quoting.
    tricky = '1\t1\t2\t"He said so\tok\n0\t3\t4\tnext\tline "\n'
    docs = list(read_mrpc(write(tmp_path, "q.txt", tricky)))
    assert [d.text for d in docs] == ['"He said so ||| ok', 'next ||| line "']


def test_mrpc_crlf_no_header_truncated(tmp_path):
    body = MRPC.split("\n", 1)[1].replace("\n", "\r\n").rstrip("\r\n")
    assert len(list(read_mrpc(write(tmp_path, "msr.txt", body), limit=1))) == 1
    assert len(list(read_mrpc(write(tmp_path, "msr.txt", body)))) == 2


@pytest.mark.parametrize(
    "row,reason",
    [
        ("2\t1\t2\ta\tb", "expected Quality 0 or 1 in column 1, found '2'"),
        ("yes\t1\t2\ta\tb", "found 'yes'"),
        ("1\t1\t2\ta", "expected 5 tab-separated columns (Quality, #1 ID, #2 ID, #1 String, #2 String), found 4"),
        ("1 1 2 a b", "separated by tabs"),
        ("1\t1\t2\t \tb", "column 4 (#1 String), found an empty string"),
    ],
)
def test_mrpc_malformed(tmp_path, row, reason):
    path = write(tmp_path, "msr.txt", MRPC + row + "\n")
    assert_fails("mrpc", path, tmp_path, "msr.txt:4:", reason)


def test_mrpc_bad_header_and_bytes(tmp_path):
    path = write(tmp_path, "msr.txt", "Quality\t#1 ID\t#2 ID\tA\tB\n")
    assert_fails("mrpc", path, tmp_path, "msr.txt:1:", "expected the header")
    path = write(tmp_path, "msr.txt", MRPC.encode("utf-8") + b"1\t1\t2\t\xc3\x28\tb\n")
    assert_fails("mrpc", path, tmp_path, "msr.txt:4:", "expected UTF-8", "c3")


# ---------------------------------------------------------------- SST-2


def test_sst2_crlf_headers(tmp_path):
    docs = list(read_sst2(write(tmp_path, "train.tsv", SST2)))
    assert [d.text for d in docs] == ["hide new secretions from the parental units", "the greatest musicians"]
    assert [d.cats for d in docs] == [
        {"positive": 0.0, "negative": 1.0},
        {"positive": 1.0, "negative": 0.0},
    ]
    dev = list(read_sst2(write(tmp_path, "dev.tsv", SST2_DEV)))
    assert len(dev) == 1 and dev[0].cats["positive"] == 1.0
    assert len(list(read_sst2(write(tmp_path, "x.tsv", "\ufeff1\tgood\n\n\n0\tbad")))) == 2


@pytest.mark.parametrize(
    "row,reason",
    [
        ("positive\tnice", "expected label 0 or 1 in column 1, found 'positive'"),
        ("0.5\tnice", "found '0.5'"),
        ("1\tnice\textra", "expected 2 tab-separated columns (label, sentence), found 3"),
        ("1 nice", "separated by tabs"),
        ("1\t  ", "found an empty string"),
    ],
)
def test_sst2_malformed(tmp_path, row, reason):
    path = write(tmp_path, "train.tsv", SST2 + row + "\r\n")
    assert_fails("sst2", path, tmp_path, "train.tsv:4:", reason)


def test_sst2_bad_header_and_bytes(tmp_path):
    path = write(tmp_path, "dev.tsv", "label\ttext\n1\tok\n")
    assert_fails("sst2", path, tmp_path, "dev.tsv:1:", "expected the header")
    path = write(tmp_path, "dev.tsv", b"label\tsentence\n1\tgood \xe2\x82\n")
    assert_fails("sst2", path, tmp_path, "dev.tsv:2:", "expected UTF-8")


@pytest.mark.parametrize(
    "fmt,sentence",
    [
        ("conllu", "{i}\t{w}\t_\tX\t_\t_\t_\t_\t_\t_"),
        ("uner", "{i}\t{w}\tO\t-\t-"),
    ],
)
def test_tab_formats_blank_lines_long_tokens_truncated(tmp_path, fmt, sentence):
    long_word = "y" * 100_000
    rows = [sentence.format(i=1, w="a"), sentence.format(i=2, w=long_word)]
    content = "\n\n\n" + "\n".join(rows) + "\n\n  \n\n\n" + sentence.format(i=1, w="b")  # no final newline
    docs = list(read_corpus(fmt, write(tmp_path, "x.txt", content)))
    assert [[t.text for t in d] for d in docs] == [["a", long_word], ["b"]]


def test_long_lines_are_fine(tmp_path):
    sentence = " ".join(["word"] * 50_000)
    assert len(next(read_sst2(write(tmp_path, "t.tsv", f"1\t{sentence}\n")))) == 50_000
    assert len(next(read_mrpc(write(tmp_path, "m.txt", f"1\t1\t2\t{sentence}\tb\n")))) == 50_002


# ---------------------------------------------------------------- writing


def test_convert_file_roundtrip_and_stats(tmp_path):
    out = tmp_path / "new" / "dir" / "train.spacy"
    stats = convert_file("uner", write(tmp_path, "dev.iob2", UNER), out)
    assert stats["documents"] == stats["sentences"] == 2 and stats["tokens"] == 15
    assert stats["entities"] == {"PER": 2, "LOC": 1}
    assert out_dir_files(out) == ["train.spacy"]
    docs = list(DocBin().from_disk(out).get_docs(spacy.blank("en").vocab))
    assert ents(docs[0]) == [("tampa bay", "LOC")]
    stats = convert_file("sst2", write(tmp_path, "train.tsv", SST2), tmp_path / "s.spacy")
    assert stats["cats"] == {"negative": 1, "positive": 1} and stats["positive_share"] == 0.5
    stats = convert_file("conllu", write(tmp_path, "e.conllu", CONLLU), tmp_path / "c.spacy")
    assert stats["tokens"] == 9 and stats["pos"]["PROPN"] == 2 and stats["tag"]["NNP"] == 2


def test_read_corpus_rejects_unknown_format_and_n_sents(tmp_path):
    with pytest.raises(ValueError, match="unknown corpus format"):
        read_corpus("csv", tmp_path / "x")
    with pytest.raises(ValueError, match="only supported for conll2003"):
        read_corpus("uner", tmp_path / "x", n_sents=2)


def test_failed_conversion_keeps_existing_output(tmp_path):
    out = tmp_path / "out" / "corpus.spacy"
    convert_file("sst2", write(tmp_path, "good.tsv", SST2), out)
    before = out.read_bytes()
    bad = write(tmp_path, "bad.tsv", SST2 + "7\tbad label\n")
    with pytest.raises(CorpusFormatError, match="bad.tsv:4:"):
        convert_file("sst2", bad, out)
    assert out.read_bytes() == before
    assert out_dir_files(out) == ["corpus.spacy"]


def test_write_docbin_error_while_reading_leaves_nothing(tmp_path):
    vocab = spacy.blank("en").vocab

    def docs():
        yield Doc(vocab, words=["a"])
        raise CorpusFormatError(tmp_path / "x", 3, "boom")

    out = tmp_path / "o" / "x.spacy"
    with pytest.raises(CorpusFormatError, match="x:3: boom"):
        write_docbin(docs(), out)
    assert out_dir_files(out) == []


def test_write_docbin_error_while_renaming_removes_temp_file(tmp_path, monkeypatch):
    out = tmp_path / "x.spacy"
    out.write_bytes(b"old")
    vocab = spacy.blank("en").vocab

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr("spacy_dice.files.os.replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_docbin([Doc(vocab, words=["a"])], out)
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.spacy"]


def test_error_is_a_value_error_and_picklable(tmp_path):
    import pickle

    err = CorpusFormatError(tmp_path / "eng.train", 17, "expected something, found else")
    assert isinstance(err, ValueError)
    assert str(err) == "eng.train:17: expected something, found else"
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == str(err) and again.line == 17


def test_conll2003_empty_column_from_leading_spaces(tmp_path):
    """Found by the fuzzer: four columns whose first is empty ('   I-NP')."""
    path = tmp_path / "eng.train"
    path.write_bytes(b"   I-NP\n")
    with pytest.raises(CorpusFormatError, match=r"eng.train:1: .*found an empty word column"):
        list(read_conll2003(path))


# ---------------------------------------------------------------- source documents (doc.user_data)


def source_docs(docs):
    return [doc.user_data.get(SOURCE_DOC) for doc in docs]


def reloaded(docs, path: Path):
    """The docs after write_docbin and DocBin().from_disk(...).get_docs(vocab)."""
    write_docbin(docs, path)
    return list(DocBin().from_disk(path).get_docs(spacy.blank("en").vocab))


CONLL2003_SOURCES = "Hi NN I-NP O\n\n" + CONLL2003 + "\n-DOCSTART- -X- O O\n\n-DOCSTART- -X- O O\n\nBye NN I-NP O\n"


def test_conll2003_source_doc_counts_docstart_lines(tmp_path):
    path = write(tmp_path, "eng.train", CONLL2003_SOURCES)
    docs = list(read_conll2003(path))
    assert [d.text for d in docs][:2] == ["Hi", "EU rejects German call ."]
    expected = [None, "docstart-1", "docstart-1", "docstart-2", "docstart-4"]  # docstart-3 is empty
    assert source_docs(docs) == expected
    assert SOURCE_DOC not in docs[0].user_data  # before any -DOCSTART-: no key
    assert source_docs(reloaded(docs, tmp_path / "o.spacy")) == expected
    grouped = list(read_conll2003(path, n_sents=10))  # a doc never spans a -DOCSTART-
    assert [(d.text[:4], s) for d, s in zip(grouped, source_docs(grouped))] == [
        ("Hi", None), ("EU r", "docstart-1"), ("Rome", "docstart-2"), ("Bye", "docstart-4"),
    ]


CONLLU_SOURCES = (
    "# sent_id = s0\n1\tHi\thi\tINTJ\t_\t_\t0\troot\t_\t_\n\n"  # before any newdoc
    + CONLLU  # newdoc d1: two sentences
    + "\n# newdoc\n# newpar id = p1\n1\tOne\tone\tNUM\t_\t_\t0\troot\t_\t_\n\n"  # unnamed: doc-2
    + "# newdoc id = weblog-x_ENG\n1-2\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n"
    + "1\tdo\tdo\tAUX\tVBP\t_\t0\troot\t_\t_\n"
    + "# newdoc id = next\n"  # among the words: starts the document of the next sentence
    + "2\tn't\tnot\tPART\tRB\t_\t1\tadvmod\t_\t_\n\n"
    + "1\tGo\tgo\tVERB\tVB\t_\t0\troot\t_\t_\n"
)


def test_conllu_source_doc_from_newdoc_comments(tmp_path):
    docs = list(read_conllu(write(tmp_path, "ewt.conllu", CONLLU_SOURCES)))
    assert [d.text for d in docs] == ["Hi", "Al-Zaman: don't go.", "Hi", "One", "don't", "Go"]
    expected = [None, "d1", "d1", "doc-2", "weblog-x_ENG", "next"]
    assert source_docs(docs) == expected
    assert SOURCE_DOC not in docs[0].user_data
    assert source_docs(reloaded(docs, tmp_path / "o.spacy")) == expected
    stats = convert_file("conllu", tmp_path / "ewt.conllu", tmp_path / "c.spacy", limit=3)
    assert stats["documents"] == 3  # the counts are those of the sentences, as before
    assert source_docs(DocBin().from_disk(tmp_path / "c.spacy").get_docs(spacy.blank("en").vocab)) == expected[:3]


UNER_SOURCES = (
    "1\tHi\tO\t-\t-\n\n"  # before any newdoc
    + UNER  # newdoc d1: two sentences
    + "\n# newdoc id = answers-2007_ans\n# sent_id = a-1\n# text = Paris\n1\tParis\tB-LOC\t-\t-\n\n"
    + "# newdoc\n1\tBye\tO\t-\t-\n"  # unnamed: the 3rd newdoc of the file
)


def test_uner_source_doc_from_newdoc_comments(tmp_path):
    path = write(tmp_path, "dev.iob2", UNER_SOURCES)
    docs = list(read_uner(path))
    assert [len(d) for d in docs] == [1, 11, 4, 1, 1]
    expected = [None, "d1", "d1", "answers-2007_ans", "doc-3"]
    assert source_docs(docs) == expected
    assert SOURCE_DOC not in docs[0].user_data
    assert ents(docs[3]) == [("Paris", "LOC")]
    out = tmp_path / "sc.spacy"
    stats = convert_file("uner", path, out, spans_key="sc")
    assert stats["documents"] == 5 and stats["entities"] == {"PER": 2, "LOC": 2}
    back = list(DocBin().from_disk(out).get_docs(spacy.blank("en").vocab))
    assert source_docs(back) == expected and [len(d.spans["sc"]) for d in back] == [0, 1, 2, 1, 0]


def test_formats_without_source_documents_store_no_user_data(tmp_path):
    for fmt, name, content in [("sst2", "train.tsv", SST2), ("mrpc", "train.txt", MRPC),
                               ("conllu", "x.conllu", CONLLU.split("\n", 1)[1])]:  # no newdoc
        out = tmp_path / f"{fmt}.spacy"
        stats = convert_file(fmt, write(tmp_path, name, content), out)
        doc_bin = DocBin().from_disk(out)
        assert doc_bin.user_data == [None] * stats["documents"], fmt  # as store_user_data=False
        assert all(not d.user_data for d in doc_bin.get_docs(spacy.blank("en").vocab))


def test_write_docbin_stores_user_data_only_where_there_is_some(tmp_path):
    vocab = spacy.blank("en").vocab
    docs = [Doc(vocab, words=["a"]), Doc(vocab, words=["b"]), Doc(vocab, words=["c"])]
    docs[1].user_data[SOURCE_DOC] = "d"
    docs[2].user_data[("._.", "x", None, None)] = [1, "y"]  # what a Doc extension stores
    back = reloaded(docs, tmp_path / "x.spacy")
    assert [d.user_data for d in back] == [{}, {SOURCE_DOC: "d"}, {("._.", "x", None, None): (1, "y")}]
    assert DocBin().from_disk(tmp_path / "x.spacy").user_data[0] is None
    docs[0].user_data["bad"] = object()
    with pytest.raises(TypeError):
        write_docbin(docs, tmp_path / "new" / "y.spacy")
    assert not (tmp_path / "new" / "y.spacy").exists()
