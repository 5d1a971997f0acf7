"""``python -m spacy_dice convert FORMAT INPUT OUTPUT``: a corpus file to a ``.spacy`` file.

The conversion is :func:`spacy_dice.corpus.convert.convert_file`; this module checks which options
go with which format and prints the counts.
"""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any, Dict, Optional

import typer
from wasabi import msg

from ..corpus.chars import POS_COLUMNS
from ..corpus.convert import FORMATS, convert_file
from ..corpus.errors import CorpusFormatError
from ..corpus.iob import SCHEMES
from ..formatting import percent
from .app import app
from .flags import flag_message

FormatName = Enum("FormatName", {name: name for name in FORMATS}, type=str)  # type: ignore[misc]
SchemeName = Enum("SchemeName", {name: name for name in SCHEMES}, type=str)  # type: ignore[misc]
PosColumn = Enum("PosColumn", {name: name for name in POS_COLUMNS}, type=str)  # type: ignore[misc]
CHAR_FORMATS = tuple(name for name, fmt in FORMATS.items() if "chars" in fmt.options)
POS_FORMATS = tuple(name for name, fmt in FORMATS.items() if "pos" in fmt.options)


def _print_counts(counts: Dict[str, int], total: Optional[int] = None) -> None:
    if not counts:
        return
    rows = []
    for label, count in counts.items():
        row = [label, f"{count:,}"]
        if total:
            row.append(f"{percent(count / total, 1)}%")
        rows.append(row)
    header = ("label", "count", "share") if total else ("label", "count")
    msg.table(rows, header=header, divider=True, aligns=("l", "r", "r")[: len(header)])


def print_conversion(stats: Dict[str, Any]) -> None:
    """Print what :func:`convert_file` read, to compare with the published counts."""
    msg.good(f"Wrote {stats['documents']:,} documents to {stats['output']}")
    task = stats["task"]
    if task == "textcat":
        msg.info(
            f"Read {stats['documents']:,} {'pairs' if stats['format'] == 'mrpc' else 'sentences'}, "
            f"{stats['tokens']:,} tokens"
        )
        msg.text(
            f"Positive share ({stats['positive_label']}): {percent(stats['positive_share'], 1)}%"
        )
        _print_counts(stats["cats"], total=stats["documents"])
        return
    if stats.get("chars"):
        msg.info(
            f"Read {stats['sentences']:,} sentences, {stats['words']:,} words, "
            f"{stats['characters']:,} characters (one token per character) "
            f"in {stats['documents']:,} documents"
        )
    else:
        msg.info(
            f"Read {stats['sentences']:,} sentences, {stats['tokens']:,} tokens "
            f"in {stats['documents']:,} documents"
        )
    if stats.get("scheme"):
        msg.text(f"Tag scheme: {stats['scheme']}")
    if task == "ner":
        total = sum(stats["entities"].values())
        msg.text(f"Entities: {total:,} of {len(stats['entities'])} types")
        _print_counts(stats["entities"])
    if stats.get("spans_key") is not None:
        msg.text(
            f"Spans: the {sum(stats['entities'].values()):,} entities are also in"
            f" doc.spans[{stats['spans_key']!r}] (span categorization: dice_spancat, spancat)"
        )
    if stats.get("chars"):
        column = stats.get("pos_column")
        if column:
            where = f"doc.spans[{stats['words_key']!r}]"
            msg.text(f"Words per {column.upper()} ({where} labels): {len(stats['word_labels'])} labels")
            _print_counts(stats["word_labels"], total=stats["words"])
    if stats["pos"]:
        msg.text(f"UPOS (pos_) labels: {len(stats['pos'])}")
        _print_counts(stats["pos"])
    if stats["tag"]:
        if stats.get("chars"):
            label = f"Character tags (tag_: BILU position in the word x {str(stats.get('pos_column')).upper()})"
        else:
            label = "XPOS (tag_)" if task == "pos" else "POS (tag_)"
        msg.text(f"{label} labels: {len(stats['tag'])}")


@app.command("convert")
def convert_cli(
    format: FormatName = typer.Argument(  # type: ignore[valid-type]
        ..., help="Input format: " + ", ".join(f"{k} ({v.description})" for k, v in FORMATS.items())
    ),
    input_path: Path = typer.Argument(
        ..., exists=True, dir_okay=False, readable=True, help="The corpus file to read."
    ),
    output_path: Path = typer.Argument(
        ..., dir_okay=False, help="The .spacy file to write (parent folders are created)."
    ),
    n_sents: int = typer.Option(
        1, "--n-sents", "-n", min=1, help="Sentences per document (conll2003 only)."
    ),
    limit: Optional[int] = typer.Option(
        None, "--limit", min=0, help="Keep only the first N sentences, pairs or rows."
    ),
    scheme: SchemeName = typer.Option(  # type: ignore[valid-type]
        "auto", "--scheme", help="iob only: the tag scheme (auto: BILUO if L-/U- tags, else IOB1/IOB2)."
    ),
    comments: bool = typer.Option(
        False, "--comments", help="iob only: lines starting with # are comments (default: tokens)."
    ),
    spans_key: Optional[str] = typer.Option(
        None, "--spans-key", help="NER formats: also write the entities to doc.spans[KEY]"
        " (span categorization, e.g. sc for dice_spancat / spancat)."
    ),
    chars: bool = typer.Option(
        False, "--chars", help=f"{', '.join(CHAR_FORMATS)}: one token per character (Chinese)."
        " conllu: the words as spans in doc.spans['words'] labelled with their POS, and BILU x POS"
        " per character in tag_; uner: the entities over the characters."
    ),
    pos: Optional[PosColumn] = typer.Option(  # type: ignore[valid-type]
        None, "--pos", help=f"{', '.join(POS_FORMATS)} with --chars: the column that labels the"
        " words (default upos)."
    ),
    sources: bool = typer.Option(
        True, "--sources/--no-sources", help="Keep each doc's source document (conllu/uner '# newdoc id',"
        " conll2003 -DOCSTART-) in doc.user_data['source_doc'], which calibrate folds dev by;"
        " --no-sources for a training file (stored user data costs about 1 ms a doc on every read)."
    ),
) -> None:
    """Convert a corpus file to spaCy's binary .spacy format and print its counts.

    A malformed line stops the conversion with FILE:LINE and the reason; no
    output file is written then.
    """
    name = format.value if isinstance(format, Enum) else str(format)
    if output_path.suffix != ".spacy":
        raise typer.BadParameter(
            f"expected a .spacy path, found {str(output_path)!r}", param_hint="OUTPUT"
        )
    if n_sents != 1 and name != "conll2003":
        raise typer.BadParameter(
            f"--n-sents is only supported for conll2003, not {name}", param_hint="--n-sents"
        )
    scheme_name = scheme.value if isinstance(scheme, Enum) else str(scheme)
    options: Dict[str, Any] = {}
    if name == "iob":
        options = {"scheme": scheme_name, "comments": comments}
    elif scheme_name != "auto" or comments:
        flag = "--scheme" if scheme_name != "auto" else "--comments"
        raise typer.BadParameter(f"{flag} is only supported for iob, not {name}", param_hint=flag)
    pos_name = pos.value if isinstance(pos, Enum) else pos
    if chars:
        if name not in CHAR_FORMATS:
            raise typer.BadParameter(
                f"--chars is only supported for {', '.join(CHAR_FORMATS)}, not {name}", param_hint="--chars"
            )
        options["chars"] = True
    if pos_name is not None:
        if name not in POS_FORMATS or not chars:
            raise typer.BadParameter(
                f"--pos is only used with --chars, for {', '.join(POS_FORMATS)} (it picks the column"
                f" that labels the words); found {name}{' with --chars' if chars else ' without --chars'}",
                param_hint="--pos",
            )
        options["pos"] = pos_name
    try:
        stats = convert_file(name, input_path, output_path, n_sents=n_sents, limit=limit,
                             spans_key=spans_key, sources=sources, **options)
    except (CorpusFormatError, ValueError) as err:  # malformed input; --spans-key for a format without entities
        msg.fail(f"Cannot convert {input_path}", flag_message(
            str(err), {"spans_key": "--spans-key", "chars": "--chars", "pos": "--pos"}))
        raise typer.Exit(code=1)
    print_conversion(stats)
