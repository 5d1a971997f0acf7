"""Character corpora (``convert conllu --chars``, ``convert uner --chars``): docs whose tokens are
the characters of each sentence, the gold words as spans, BILU x POS tags, entities over characters.

The small files are made-up sentences written by the tests (the Chinese GSD corpora may not ship).
The real-data tests at the end check the counts of ../shared/data/README.md (skipped with the
reason when the folder is absent; see tests/realdata.py).
"""
from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import List, Optional

import pytest
import spacy
from spacy.tokens import Doc, DocBin

from spacy_dice.corpus import (
    SOURCE_DOC, CorpusFormatError, CorpusStats, convert_file, read_conllu, read_corpus, read_uner,
)
from spacy_dice.corpus.chars import MULTIWORD_JOIN, WORDS_KEY, CharDocs, char_doc, text_mismatch, word_characters

from realdata import DATA, skip_reason
from test_corpus_cli import invoke


def conllu_line(i, form: str, upos: str = "NOUN", xpos: str = "NN") -> str:
    return "\t".join([str(i), form, "_", upos, xpos, "_", "_", "_", "_", "_"])


def conllu(*sentences: List[tuple], text: Optional[List[Optional[str]]] = None) -> str:
    """A CoNLL-U string: each sentence a list of (id, form, upos, xpos) rows."""
    blocks = []
    for index, rows in enumerate(sentences):
        lines = [f"# sent_id = {index + 1}"]
        if text is not None and text[index] is not None:
            lines.append(f"# text = {text[index]}")
        lines.extend(conllu_line(*row) for row in rows)
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks) + "\n"


# Made-up sentences: "我們 去 北京 。" and "他 買 了 iPhone 12"
SENTENCE_1 = [(1, "我們", "PRON", "PRP"), (2, "去", "VERB", "VV"), (3, "北京", "PROPN", "NNP"), (4, "。", "PUNCT", ".")]
SENTENCE_2 = [(1, "他", "PRON", "PRP"), (2, "買", "VERB", "VV"), (3, "了", "PART", "AS"), (4, "iPhone 12", "PROPN", "NNP")]

UNER = """# sent_id = 1
# text = 我們去北京。
1\t我們\tO\t-\t-
2\t去\tO\t-\t-
3\t北京\tB-LOC\t-\t-
4\t。\tO\t-\t-

# text = 王小明在台北大學
1\t王\tB-PER\t-\t-
2\t小明\tI-PER\t-\t-
3\t在\tO\t-\t-
4\t台北\tB-ORG\t-\t-
5\t大學\tI-ORG\t-\t-
"""


def write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def words_of(doc: Doc):
    return [(span.text, span.label_) for span in doc.spans[WORDS_KEY]]


def assert_zh_tokens(doc: Doc) -> None:
    """``doc.text`` is what spacy.blank("zh")'s default char segmenter splits into the same tokens."""
    assert [t.text for t in zh().make_doc(doc.text)] == [t.text for t in doc]
    assert all(not t.whitespace_ for t in doc)


_ZH = []


def zh():
    if not _ZH:
        _ZH.append(spacy.blank("zh"))
    return _ZH[0]


# ---------------------------------------------------------------- building blocks


def test_char_doc_bilu_tags_and_spans():
    vocab = spacy.blank("en").vocab
    doc = char_doc(vocab, ["我們", "去", "北京市"], labels=["PRON", "VERB", "PROPN"])
    assert [t.text for t in doc] == list("我們去北京市") and doc.text == "我們去北京市"
    assert [t.tag_ for t in doc] == ["B-PRON", "L-PRON", "U-VERB", "B-PROPN", "I-PROPN", "L-PROPN"]
    assert words_of(doc) == [("我們", "PRON"), ("去", "VERB"), ("北京市", "PROPN")]
    assert not doc.has_annotation("POS")
    ner = char_doc(vocab, ["王", "小明", "在"], entities=[(0, 2, "PER")])
    assert [(e.text, e.label_) for e in ner.ents] == [("王小明", "PER")]
    assert [t.ent_iob_ for t in ner] == ["B", "I", "I", "O"] and WORDS_KEY not in ner.spans
    with pytest.raises(ValueError, match="word 2 has no character"):
        char_doc(vocab, ["我", ""], labels=["PRON", "X"])


def test_word_characters_and_text_mismatch():
    assert word_characters("iPhone 12") == "iPhone12"
    assert word_characters(" \u3000\t") == ""
    assert text_mismatch("我們 去北京", "我們去北京") is None
    problem = text_mismatch("我們去南京", "我們去北京")
    assert "at character 4: '南' in the text, '北' in the words" in problem


# ---------------------------------------------------------------- conllu --chars


def test_conllu_chars_words_tags_and_zh_tokens(tmp_path):
    path = write(tmp_path, "zh.conllu", conllu(SENTENCE_1, SENTENCE_2))
    docs = list(read_conllu(path, chars=True))
    assert len(docs) == 2
    doc = docs[0]
    assert doc.text == "我們去北京。" and len(doc) == 6
    assert words_of(doc) == [("我們", "PRON"), ("去", "VERB"), ("北京", "PROPN"), ("。", "PUNCT")]
    assert [t.tag_ for t in doc] == ["B-PRON", "L-PRON", "U-VERB", "B-PROPN", "L-PROPN", "U-PUNCT"]
    assert all(t.pos_ == "" for t in doc)
    for doc in docs:
        assert_zh_tokens(doc)


def test_conllu_chars_latin_digits_and_spaces_inside_a_form(tmp_path):
    path = write(tmp_path, "zh.conllu", conllu(SENTENCE_2, text=["他買了 iPhone 12"]))
    (doc,) = read_conllu(path, chars=True)
    assert doc.text == "他買了iPhone12"
    assert [t.text for t in doc][3:] == list("iPhone12")  # every character kept, the space dropped
    span = doc.spans[WORDS_KEY][-1]
    assert (span.text, span.label_, span.start, span.end) == ("iPhone12", "PROPN", 3, 11)
    assert [t.tag_ for t in doc][3:] == ["B-PROPN"] + ["I-PROPN"] * 6 + ["L-PROPN"]
    assert_zh_tokens(doc)


def test_conllu_chars_xpos(tmp_path):
    path = write(tmp_path, "zh.conllu", conllu(SENTENCE_1))
    (doc,) = read_conllu(path, chars=True, pos="xpos")
    assert words_of(doc) == [("我們", "PRP"), ("去", "VV"), ("北京", "NNP"), ("。", ".")]
    assert [t.tag_ for t in doc] == ["B-PRP", "L-PRP", "U-VV", "B-NNP", "L-NNP", "U-."]


def test_conllu_chars_multiword_tokens(tmp_path):
    # 1-2 whose parts concatenate to it: the parts are the words; 3-4 (du = de + le): one word
    content = (
        "1-2\t北京市\t_\t_\t_\t_\t_\t_\t_\t_\n"
        + conllu_line(1, "北京", "PROPN", "NNP") + "\n"
        + conllu_line(2, "市", "PART", "SFN") + "\n"
        + "3-4\tdu\t_\t_\t_\t_\t_\t_\t_\t_\n"
        + conllu_line(3, "de", "ADP", "IN") + "\n"
        + conllu_line(4, "le", "DET", "DT") + "\n"
        + conllu_line(5, "的", "PART", "DEC") + "\n\n"
    )
    path = write(tmp_path, "mwt.conllu", content)
    (doc,) = read_conllu(path, chars=True)
    assert doc.text == "北京市du的"
    assert words_of(doc) == [("北京", "PROPN"), ("市", "PART"), ("du", f"ADP{MULTIWORD_JOIN}DET"), ("的", "PART")]
    assert [t.tag_ for t in doc] == ["B-PROPN", "L-PROPN", "U-PART", "B-ADP+DET", "L-ADP+DET", "U-PART"]
    # without --chars nothing changes: the parts are the tokens
    assert [t.text for t in next(iter(read_conllu(path)))] == ["北京", "市", "de", "le", "的"]


@pytest.mark.parametrize(
    "content,line,reason",
    [
        ("1\t \t_\tNOUN\tNN\t_\t_\t_\t_\t_\n", 2, "found ' ': a character corpus has no token for a form of only whitespace"),
        ("1\t\t_\tNOUN\tNN\t_\t_\t_\t_\t_\n", 2, "expected a word in column FORM, found an empty column"),
        ("1-2\t\t_\t_\t_\t_\t_\t_\t_\t_\n", 2, "expected a multiword token in column FORM, found an empty column"),
        ("1-2\tab\t_\t_\t_\t_\t_\t_\t_\t_\n1-3\tabc\t_\t_\t_\t_\t_\t_\t_\t_\n", 3, "expected a multiword range after the end"),
        ("1-2\tab\t_\t_\t_\t_\t_\t_\t_\t_\n1\ta\t_\tNOUN\tNN\t_\t_\t_\t_\t_", 3, "the file ended inside a multiword token"),
    ],
)
def test_conllu_chars_word_without_characters_is_an_error(tmp_path, content, line, reason):
    path = write(tmp_path, "zh.conllu", "# sent_id = 1\n" + content)
    with pytest.raises(CorpusFormatError) as info:
        list(read_conllu(path, chars=True))
    assert str(info.value).startswith(f"zh.conllu:{line}: ") and reason in str(info.value), str(info.value)


def test_conllu_chars_text_that_differs_from_the_forms(tmp_path):
    path = write(tmp_path, "zh.conllu", conllu(SENTENCE_1, text=["我們去南京。"]))
    with pytest.raises(CorpusFormatError) as info:
        list(read_conllu(path, chars=True))
    message = str(info.value)
    assert message.startswith("zh.conllu:2: # text does not match the words (lines 3-6)")
    assert "'南' in the text, '北' in the words" in message
    # whitespace in the text is not a difference; without --chars the text is not checked
    assert next(iter(read_conllu(write(tmp_path, "ok.conllu", conllu(SENTENCE_1, text=["我們 去 北京 。"])), chars=True))).text == "我們去北京。"
    assert len(list(read_conllu(path))) == 1


@pytest.mark.parametrize("pos,column,line", [("xpos", "XPOS", 4), ("upos", "UPOS", 4)])
def test_conllu_chars_tag_column_without_tags(tmp_path, pos, column, line):
    rows = [(1, "我們", "PRON", "PRP"), (2, "去", "_", "_")]
    path = write(tmp_path, "zh.conllu", conllu(rows, text=["我們去"]))
    with pytest.raises(CorpusFormatError) as info:
        list(read_conllu(path, chars=True, pos=pos))
    message = str(info.value)
    assert message.startswith(f"zh.conllu:{line}: expected a tag in column {column} (pos={pos!r}"), message
    assert "found '_'" in message and "use pos=" in message


@pytest.mark.parametrize(
    "content", ["", "# newdoc id = a\n# sent_id = 1\n\n\n", "\n\n"], ids=["empty", "comments", "blank"]
)
def test_conllu_chars_file_without_words(tmp_path, content):
    path = write(tmp_path, "zh.conllu", content)
    out = tmp_path / "out.spacy"
    with pytest.raises(CorpusFormatError, match=r"^zh.conllu: expected word lines .* the file has no sentence"):
        convert_file("conllu", path, out, chars=True)
    assert not out.exists()
    assert list(read_conllu(path)) == []  # without --chars nothing changes


def test_conllu_chars_text_without_words(tmp_path):
    path = write(tmp_path, "zh.conllu", conllu(SENTENCE_1) + "# text = 他來了\n\n" + conllu(SENTENCE_2))
    with pytest.raises(CorpusFormatError, match=r"^zh.conllu:7: expected the word lines of the sentence whose # text is '他來了'"):
        list(read_conllu(path, chars=True))


def test_conllu_pos_options(tmp_path):
    path = write(tmp_path, "zh.conllu", conllu(SENTENCE_1))
    with pytest.raises(ValueError, match=r"pos='xpos' is only used with chars=True"):
        read_conllu(path, pos="xpos")
    with pytest.raises(ValueError, match=r"pos='lemma' is not a POS column: expected one of 'upos', 'xpos'"):
        read_conllu(path, chars=True, pos="lemma")
    with pytest.raises(ValueError, match=r"format iob has no option 'chars' \(its options: scheme, comments\); formats with chars: conllu, uner"):
        read_corpus("iob", path, chars=True)
    with pytest.raises(ValueError, match=r"format uner has no option 'pos' \(its options: chars\); formats with pos: conllu"):
        read_corpus("uner", path, chars=True, pos="upos")


def test_convert_file_chars_stats_and_round_trip(tmp_path):
    path = write(tmp_path, "zh.conllu", conllu(SENTENCE_1, SENTENCE_2))
    out = tmp_path / "train.spacy"
    stats = convert_file("conllu", path, out, chars=True, pos="upos")
    assert (stats["sentences"], stats["words"], stats["characters"], stats["tokens"]) == (2, 8, 17, 17)
    assert stats["chars"] is True and stats["words_key"] == WORDS_KEY and stats["pos_column"] == "upos"
    assert stats["word_labels"] == {"PRON": 2, "VERB": 2, "PROPN": 2, "PUNCT": 1, "PART": 1}
    assert stats["pos"] == {} and stats["tag"]["U-VERB"] == 2 and stats["tag"]["I-PROPN"] == 6
    docs = list(DocBin().from_disk(out).get_docs(spacy.blank("zh").vocab))
    assert words_of(docs[1])[-1] == ("iPhone12", "PROPN") and docs[1][-1].tag_ == "L-PROPN"
    assert [t.text for t in docs[0]] == list("我們去北京。")
    # without chars: the word docs, and no chars keys
    plain = convert_file("conllu", path, tmp_path / "words.spacy")
    assert plain["tokens"] == 8 and "chars" not in plain and plain["word_labels"] == {}


def test_conllu_chars_source_doc_from_newdoc_comments(tmp_path):
    body = conllu(SENTENCE_1, SENTENCE_2, SENTENCE_1)
    first, second, third = body.split("# sent_id")[1:]
    content = f"# sent_id{first}# newdoc id = news-1\n# sent_id{second}# newdoc\n# sent_id{third}"
    path = write(tmp_path, "zh.conllu", content)
    docs = list(read_conllu(path, chars=True))
    expected = [None, "news-1", "doc-2"]  # before any newdoc: no key; unnamed: its index
    assert [d.user_data.get(SOURCE_DOC) for d in docs] == expected
    assert SOURCE_DOC not in docs[0].user_data and words_of(docs[1])[0] == ("他", "PRON")
    convert_file("conllu", path, tmp_path / "zh.spacy", chars=True)
    back = DocBin().from_disk(tmp_path / "zh.spacy").get_docs(spacy.blank("zh").vocab)
    assert [d.user_data.get(SOURCE_DOC) for d in back] == expected


# ---------------------------------------------------------------- uner --chars


def test_uner_chars_entities_over_characters(tmp_path):
    path = write(tmp_path, "zh.iob2", UNER)
    reader = read_uner(path, chars=True)
    docs = list(reader)
    assert isinstance(reader, CharDocs) and reader.words == 9
    assert [d.text for d in docs] == ["我們去北京。", "王小明在台北大學"]
    assert [(e.text, e.label_, e.start, e.end) for e in docs[0].ents] == [("北京", "LOC", 3, 5)]
    assert [(e.text, e.label_) for e in docs[1].ents] == [("王小明", "PER"), ("台北大學", "ORG")]
    assert [t.ent_iob_ for t in docs[1]] == ["B", "I", "I", "O", "B", "I", "I", "I"]
    assert WORDS_KEY not in docs[0].spans and not docs[0].has_annotation("TAG")
    for doc in docs:
        assert_zh_tokens(doc)


def test_uner_chars_with_spans_key(tmp_path):
    path = write(tmp_path, "zh.iob2", UNER)
    stats = convert_file("uner", path, tmp_path / "ner.spacy", chars=True, spans_key="sc")
    assert stats["entities"] == {"LOC": 1, "PER": 1, "ORG": 1} and stats["spans_key"] == "sc"
    assert (stats["sentences"], stats["words"], stats["characters"]) == (2, 9, 14)
    assert "pos_column" not in stats
    docs = list(DocBin().from_disk(tmp_path / "ner.spacy").get_docs(spacy.blank("zh").vocab))
    assert [(s.text, s.label_) for s in docs[1].spans["sc"]] == [("王小明", "PER"), ("台北大學", "ORG")]


def test_uner_chars_source_doc_from_newdoc_comments(tmp_path):
    content = "1\t你好\tO\t-\t-\n\n# newdoc id = batch-0000\n" + UNER + "\n# newdoc\n1\t好\tO\t-\t-\n"
    path = write(tmp_path, "zh.iob2", content)
    reader = read_uner(path, chars=True)
    docs = list(reader)
    expected = [None, "batch-0000", "batch-0000", "doc-2"]
    assert [d.user_data.get(SOURCE_DOC) for d in docs] == expected and reader.words == 11
    convert_file("uner", path, tmp_path / "ner.spacy", chars=True)
    back = list(DocBin().from_disk(tmp_path / "ner.spacy").get_docs(spacy.blank("zh").vocab))
    assert [d.user_data.get(SOURCE_DOC) for d in back] == expected
    assert [(e.text, e.label_) for e in back[2].ents] == [("王小明", "PER"), ("台北大學", "ORG")]


def test_uner_chars_latin_and_spaces_inside_a_token(tmp_path):
    content = "# text = 他買了 iPhone 12\n1\t他\tO\t-\t-\n2\t買\tO\t-\t-\n3\t了\tO\t-\t-\n4\tiPhone 12\tB-ORG\t-\t-\n"
    (doc,) = read_uner(write(tmp_path, "zh.iob2", content), chars=True)
    assert doc.text == "他買了iPhone12" and [(e.text, e.start, e.end) for e in doc.ents] == [("iPhone12", 3, 11)]
    assert_zh_tokens(doc)


@pytest.mark.parametrize(
    "content,location,reason",
    [
        ("# text = 我們去南京\n1\t我們\tO\t-\t-\n2\t去\tO\t-\t-\n3\t北京\tB-LOC\t-\t-\n", "zh.iob2:1:",
         "# text does not match the tokens (lines 2-4)"),
        ("1\t我們\tO\t-\t-\n2\t\u3000\tO\t-\t-\n", "zh.iob2:2:", "has no token for a form of only whitespace"),
        ("# text = 我們\n\n", "zh.iob2:1:", "expected the token lines of the sentence whose # text is '我們'"),
        ("# only a comment\n", "zh.iob2:", "expected token lines (5 tab-separated columns"),
    ],
)
def test_uner_chars_bad_input(tmp_path, content, location, reason):
    path = write(tmp_path, "zh.iob2", content)
    with pytest.raises(CorpusFormatError) as info:
        convert_file("uner", path, tmp_path / "out.spacy", chars=True)
    assert str(info.value).startswith(location) and reason in str(info.value), str(info.value)
    assert not (tmp_path / "out.spacy").exists()


# ---------------------------------------------------------------- the command


def test_cli_conllu_chars_prints_the_counts(tmp_path):
    path = write(tmp_path, "zh.conllu", conllu(SENTENCE_1, SENTENCE_2))
    result = invoke(["conllu", str(path), str(tmp_path / "c.spacy"), "--chars", "--pos", "xpos"])
    assert result.exit_code == 0, result.output
    assert "Read 2 sentences, 8 words, 17 characters (one token per character) in 2 documents" in result.output
    assert "Words per XPOS (doc.spans['words'] labels): 5 labels" in result.output
    assert "PRP 2 25.0%" in result.output and "VV 2 25.0%" in result.output
    assert "Character tags (tag_: BILU position in the word x XPOS) labels: 9" in result.output


def test_cli_uner_chars_prints_the_counts(tmp_path):
    path = write(tmp_path, "zh.iob2", UNER)
    result = invoke(["uner", str(path), str(tmp_path / "u.spacy"), "--chars"])
    assert result.exit_code == 0, result.output
    assert "Read 2 sentences, 9 words, 14 characters (one token per character) in 2 documents" in result.output
    assert "Entities: 3 of 3 types" in result.output


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["conllu", "--pos", "xpos"], "--pos is only used with --chars, for conllu"),
        (["uner", "--chars", "--pos", "upos"], "--pos is only used with --chars, for conllu"),
        (["iob", "--chars"], "--chars is only supported for conllu, uner, not iob"),
        (["conll2003", "--chars"], "--chars is only supported for conllu, uner, not conll2003"),
    ],
)
def test_cli_refuses_chars_and_pos_where_they_do_not_apply(tmp_path, args, fragment):
    path = write(tmp_path, "zh.conllu", conllu(SENTENCE_1))
    name, *flags = args
    result = invoke([name, str(path), str(tmp_path / "x.spacy"), *flags])
    output = " ".join(result.output.replace("│", " ").split())  # typer's error box
    assert result.exit_code == 2 and fragment in output, output
    assert not (tmp_path / "x.spacy").exists()


def test_cli_bad_input_names_file_and_line(tmp_path):
    rows = [(1, "我們", "PRON", "_")]
    path = write(tmp_path, "zh.conllu", conllu(rows))
    result = invoke(["conllu", str(path), str(tmp_path / "x.spacy"), "--chars", "--pos", "xpos"])
    assert result.exit_code == 1 and "zh.conllu:2: expected a tag in column XPOS (--pos 'xpos'" in result.output, result.output
    assert "use --pos 'upos'" in result.output


# ---------------------------------------------------------------- the real corpora (../shared/data)

UD_COUNTS = {  # ../shared/data/README.md: sentences, words, characters
    "train": (3997, 98_608, 156_309),
    "dev": (500, 12_663, 20_000),
    "test": (500, 12_012, 19_206),
}
UNER_ENTITIES = {
    "train": {"LOC": 2871, "PER": 2155, "ORG": 1110},
    "dev": {"LOC": 437, "PER": 238, "ORG": 135},
    "test": {"LOC": 434, "PER": 206, "ORG": 127},
}
SLOW_TRAIN = [pytest.param("train", marks=pytest.mark.slow), "dev", "test"]


def data_file(relative: str) -> Path:
    path = DATA / relative
    if not path.is_file():
        pytest.skip(skip_reason(path))
    return path


@pytest.mark.realdata
@pytest.mark.parametrize("split", SLOW_TRAIN)
def test_ud_chinese_gsd_r14_char_counts(tmp_path, split):
    """dev and test through ``convert_file`` (what ``convert conllu --chars`` writes); train,
    the same reader, counted as it is read (writing its 100,000 word spans adds nothing here)."""
    source = data_file(f"ud_chinese_gsd_r1.4/zh-ud-{split}.conllu")
    if split == "train":
        counts = CorpusStats()
        reader = read_conllu(source, chars=True, pos="upos")
        for _ in counts.counting(reader):
            pass
        stats = {**counts.to_dict(), "words": reader.words, "characters": counts.tokens}
    else:
        stats = convert_file("conllu", source, tmp_path / f"{split}.spacy", chars=True, pos="upos")
        assert stats["words_key"] == WORDS_KEY and stats["pos_column"] == "upos"
    assert (stats["sentences"], stats["words"], stats["characters"]) == UD_COUNTS[split]
    assert stats["documents"] == UD_COUNTS[split][0]
    assert sum(stats["word_labels"].values()) == stats["words"]
    assert len(stats["word_labels"]) == 15  # UD v1 UPOS: CONJ, no CCONJ / SCONJ / INTJ
    if split == "train":
        assert stats["word_labels"]["NOUN"] == 27_096 and stats["word_labels"]["SYM"] == 25


@pytest.mark.realdata
@pytest.mark.parametrize("split", SLOW_TRAIN)
def test_uner_chinese_gsd_char_entities_and_same_sentences_as_ud(split):
    ud = [doc.text for doc in read_conllu(data_file(f"ud_chinese_gsd_r1.4/zh-ud-{split}.conllu"), chars=True)]
    stats = CorpusStats()
    reader = read_uner(data_file(f"uner_chinese_gsd/zh_gsd-ud-{split}.iob2"), chars=True)
    uner = [doc.text for doc in stats.counting(reader)]
    assert stats.entities == UNER_ENTITIES[split]
    assert len(uner) == len(ud) == UD_COUNTS[split][0]
    # The same sentences, but not the same characters: UD r1.4 writes ASCII punctuation (, . ( ) :),
    # UNER (from a later UD release) the full-width forms (， 。 （ ） ：) and … for "...":
    # NFKC and 。 -> . make every pair equal.
    def normal(text: str) -> str:
        return unicodedata.normalize("NFKC", text).replace("。", ".")

    assert [normal(t) for t in uner] == [normal(t) for t in ud]
    if split != "train":
        assert sum(a == b for a, b in zip(ud, uner)) <= 1  # nearly every sentence differs raw
        assert reader.words == UD_COUNTS[split][1]
    else:
        assert reader.words == 98_616  # 8 more than UD r1.4: a few sentences tokenized differently


def test_words_key_is_the_one_the_joint_component_reads():
    scorer = pytest.importorskip("spacy_dice.pipeline.seg_tagger_scorer")
    from spacy_dice.corpus import WORDS_KEY as exported

    assert exported == WORDS_KEY == scorer.DEFAULT_WORDS_KEY == "words"


# ---------------------------------------------------------------- fuzzing (tests/test_corpus_fuzz.py's inputs)

from hypothesis import given  # noqa: E402

from test_corpus_fuzz import FUZZ, VOCAB, inputs  # noqa: E402


def convert_both(fmt: str, content: bytes, tmp: Path):
    """(stats, docs) with and without chars, or the CorpusFormatError of the chars conversion."""
    source = tmp / "input.txt"
    source.write_bytes(content)
    out = tmp / "chars.spacy"
    try:
        stats = convert_file(fmt, source, out, chars=True)
    except CorpusFormatError as err:
        assert str(err).startswith("input.txt"), str(err)
        assert not out.exists()
        return None
    plain = convert_file(fmt, source, tmp / "words.spacy")  # chars is the stricter reading
    docs = list(DocBin().from_disk(out).get_docs(VOCAB))
    return stats, plain, docs


def check_chars(fmt: str, content: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        result = convert_both(fmt, content, Path(tmp))
    if result is None:
        return
    stats, plain, docs = result
    assert stats["documents"] == plain["documents"] == len(docs) > 0
    assert stats["entities"] == plain["entities"]  # no entity dropped
    for doc in docs:
        assert_zh_tokens(doc)
        if fmt == "conllu":
            ends = [0] + [span.end for span in doc.spans[WORDS_KEY]]
            assert [span.start for span in doc.spans[WORDS_KEY]] == ends[:-1] and ends[-1] == len(doc)
            assert all(t.tag_[:2] in ("B-", "I-", "L-", "U-") for t in doc)
    if fmt == "conllu":
        assert sum(stats["word_labels"].values()) == stats["words"] <= plain["tokens"]


@FUZZ
@given(content=inputs("conllu"))
def test_fuzz_conllu_chars(content):
    check_chars("conllu", content)


@FUZZ
@given(content=inputs("uner"))
def test_fuzz_uner_chars(content):
    check_chars("uner", content)
