"""The number tables of README.md and docs/*.md are generated from benchmarks/results/*.json."""
import json
from pathlib import Path

import pytest
from benchmark_scripts import load_benchmark_script

ROOT = Path(__file__).resolve().parent.parent

make_tables = load_benchmark_script("make_tables")


def test_no_generated_block_is_stale():
    stale = make_tables.update(make_tables.documents(ROOT), make_tables.RESULTS_DIR, write=False)
    assert not stale, (
        "generated blocks differ from benchmarks/results/*.json; run "
        f"`python benchmarks/make_tables.py`: {stale}"
    )


def test_readme_has_the_results_block():
    text = (ROOT / "README.md").read_text(encoding="utf8")
    assert "<!-- generated:results -->" in text and "<!-- /generated:results -->" in text


def test_a_hand_edited_number_is_caught(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf8")
    edited = readme.replace("77.33 +- 0.42", "77.45 +- 0.54", 1)
    assert edited != readme, "the CoNLL-2003 CE cell is expected in the README block"
    doc = tmp_path / "README.md"
    doc.write_text(edited, encoding="utf8")
    assert f"{doc}: results" in make_tables.update([doc], make_tables.RESULTS_DIR, write=False)
    # rewriting restores the generated text
    make_tables.update([doc], make_tables.RESULTS_DIR, write=True)
    text = doc.read_text(encoding="utf8")
    assert "77.45 +- 0.54" not in text and "77.33 +- 0.42" in text
    assert f"{doc}: results" not in make_tables.update([doc], make_tables.RESULTS_DIR, write=False)


def test_the_table_follows_the_results_json(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    for path in make_tables.RESULTS_DIR.glob("*.json"):
        (results / path.name).write_text(path.read_text(encoding="utf8"), encoding="utf8")
    data = json.loads((results / "conll03.json").read_text(encoding="utf8"))
    for run in data["runs"]:
        if run["name"] == "dsc":
            run["scores"]["f"] = 0.9  # DSC now best on CoNLL-2003: bold moves to it
    (results / "conll03.json").write_text(json.dumps(data), encoding="utf8")
    row = next(line for line in make_tables.results_table(results).splitlines() if "CoNLL" in line)
    assert "**90.00 +- 0.00** (3)" in row and "**77.33" not in row


def test_unknown_or_unclosed_block_is_an_error():
    with pytest.raises(ValueError, match="no generator"):
        make_tables.render("<!-- generated:nope -->\nx\n<!-- /generated:nope -->\n", make_tables.RESULTS_DIR)
    with pytest.raises(ValueError, match="no matching"):
        make_tables.render("<!-- generated:results -->\nx\n", make_tables.RESULTS_DIR)


def test_check_exit_code(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text("<!-- generated:results -->\nold\n<!-- /generated:results -->\n", encoding="utf8")
    assert make_tables.main(["--check", str(doc)]) == 1
    assert make_tables.main([str(doc)]) == 0
    assert make_tables.main(["--check", str(doc)]) == 0
