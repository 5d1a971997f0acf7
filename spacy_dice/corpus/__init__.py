"""Corpus readers (CoNLL-2003, CoNLL-U, Universal NER, generic IOB/BILUO columns, MRPC, SST-2) into spaCy docs.

Each reader yields ``Doc`` objects built from the gold tokens; :func:`convert_file`
writes them to a ``.spacy`` file and returns counts to compare with the published
ones. Malformed input raises :class:`CorpusFormatError` with ``file:line``.
"""
from ._docs import SOURCE_DOC
from .chars import WORDS_KEY
from .conll2003 import read_conll2003
from .conllu import read_conllu
from .convert import FORMATS, CorpusStats, convert_file, read_corpus
from .docbin import write_docbin
from .errors import CorpusFormatError
from .iob import read_iob
from .mrpc import read_mrpc
from .pairs import PAIR_SEPARATOR, make_pair_text
from .sst2 import read_sst2
from .uner import read_uner

__all__ = [
    "FORMATS",
    "PAIR_SEPARATOR",
    "SOURCE_DOC",
    "WORDS_KEY",
    "CorpusFormatError",
    "CorpusStats",
    "convert_file",
    "make_pair_text",
    "read_conll2003",
    "read_conllu",
    "read_corpus",
    "read_iob",
    "read_mrpc",
    "read_sst2",
    "read_uner",
    "write_docbin",
]
