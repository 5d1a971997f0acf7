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


def _block(text: str, name: str) -> str:
    match = next(m for m in make_tables.BLOCK_RE.finditer(text) if m.group("name") == name)
    return match.group("body")


def test_readme_results_are_the_converged_ones():
    """The README's one results table is the early-stopping one; the 600-800-step table lives in
    docs/BENCHMARKS.md."""
    readme = (ROOT / "README.md").read_text(encoding="utf8")
    assert "<!-- generated:results -->" in readme and "<!-- /generated:results -->" in readme
    assert "generated:short_budget" not in readme
    body = _block(readme, "results")
    ner_rows = [line for line in body.splitlines() if "`dice_ner`" in line]
    assert ner_rows and all("early stopping" in line for line in ner_rows), body
    benchmarks = (ROOT / "docs" / "BENCHMARKS.md").read_text(encoding="utf8")
    assert "77.33 +- 0.42" in _block(benchmarks, "short_budget")


def test_a_hand_edited_number_is_caught(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf8")
    edited = readme.replace("81.27 +- 0.03", "81.45 +- 0.54", 1)
    assert edited != readme, "the CoNLL-2003 CE cell (early stopping) is expected in the README block"
    doc = tmp_path / "README.md"
    doc.write_text(edited, encoding="utf8")
    assert f"{doc}: results" in make_tables.update([doc], make_tables.RESULTS_DIR, write=False)
    # rewriting restores the generated text
    make_tables.update([doc], make_tables.RESULTS_DIR, write=True)
    text = doc.read_text(encoding="utf8")
    assert "81.45 +- 0.54" not in text and "81.27 +- 0.03" in text
    assert f"{doc}: results" not in make_tables.update([doc], make_tables.RESULTS_DIR, write=False)


def _copy_results(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    for path in make_tables.RESULTS_DIR.glob("*.json"):
        (results / path.name).write_text(path.read_text(encoding="utf8"), encoding="utf8")
    return results


def test_the_short_budget_table_follows_the_results_json(tmp_path):
    results = _copy_results(tmp_path)
    data = json.loads((results / "conll03.json").read_text(encoding="utf8"))
    for run in data["runs"]:
        if run["name"] == "dsc":
            run["scores"]["f"] = 0.9  # DSC now best on CoNLL-2003: bold moves to it
    (results / "conll03.json").write_text(json.dumps(data), encoding="utf8")
    row = next(line for line in make_tables.short_budget_table(results).splitlines() if "CoNLL" in line)
    assert "**90.00 +- 0.00** (3)" in row and "**77.33" not in row


def test_the_pick_follows_dev_not_test(tmp_path):
    """The README's pick changes only when a loss beats CE on dev by more than CE's seed spread."""
    results = _copy_results(tmp_path)

    def conll_row():
        return next(line for line in make_tables.results_table(results).splitlines()
                    if "CoNLL-2003" in line and "dice_ner" in line)

    assert "| CE | 81.27 +- 0.03 (2) | DSC: 81.24 +- 0.52 (2) |" in conll_row()
    path = results / "conll03_converged_6000.json"
    data = json.loads(path.read_text(encoding="utf8"))
    for run in data["runs"]:
        if run["name"] == "dsc":
            run["scores"]["f"] = 0.95  # best on test only: the pick stays CE
    path.write_text(json.dumps(data), encoding="utf8")
    assert "| CE | 81.27 +- 0.03 (2) | DSC: 95.00 +- 0.00 (2) |" in conll_row()
    for run in data["runs"]:
        if run["name"] == "dsc":
            run["best_dev_score"] = 0.99  # now far ahead on dev: DSC becomes the pick
    path.write_text(json.dumps(data), encoding="utf8")
    assert "| DSC | 81.27 +- 0.03 (2) | DSC: 95.00 +- 0.00 (2) |" in conll_row()


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


def _synthetic_zh(results, stem, rows):
    """A minimal run_accuracy results file: ``rows`` maps a row name to (dev, test F1) per seed."""
    runs = [{"name": name, "seed": seed, "best_dev_score": dev, "best_step": 200, "last_step": 400,
             "dev_scores": {"f": dev}, "scores": {"p": test, "r": test, "f": test, "seg_f": test}}
            for name, values in rows.items() for seed, (dev, test) in enumerate(values)]
    meta = {"max_steps": 1000, "eval_frequency": 200, "patience": 400}
    (results / f"{stem}.json").write_text(json.dumps({"meta": meta, "runs": runs}), encoding="utf8")


def test_the_chinese_table_sets_ours_beside_the_published_rows(tmp_path):
    """Our rows: CE, DSC and the row with the best mean dev score (not test) among the rows with
    the most seeds; every published row stays, ours after the published rows of the same data."""
    results = tmp_path / "results"
    results.mkdir()
    _synthetic_zh(results, "ud_zh_converged", {
        "ce": [(0.80, 0.85), (0.82, 0.87)],
        "dsc": [(0.81, 0.95), (0.81, 0.95)],  # best on test only
        "focal": [(0.90, 0.70), (0.90, 0.72)],  # best on dev
        "dl": [(0.99, 0.99)],  # one seed: not among the rows with the most seeds
    })
    table = make_tables.chinese_beside_published_table(results)
    lines = table.splitlines()
    ours = [line for line in lines if "ours:" in line]
    assert len(ours) == 3, table
    assert "focal, the best mean dev score (2 seeds)" in ours[2] and "71.00 +- 1.41" in ours[2]
    assert "ours: CNN, CE (2 seeds)" in ours[0] and "ours: CNN, DSC (2 seeds)" in ours[1]
    assert not any("DL" in line for line in ours)
    ud_rows = [i for i, line in enumerate(lines) if line.startswith("| UD1.4 |")]
    assert ud_rows == list(range(ud_rows[0], ud_rows[0] + len(ud_rows)))  # one block per data set
    assert lines.index(ours[0]) > max(i for i in ud_rows if "ours:" not in lines[i])
    for published in ("89.41", "94.79", "96.98", "89.50", "95.75"):
        assert f"| {published} |" in table
    # no UNER Chinese results: its published row stays, and no row of ours is invented
    assert "| UNER Chinese-GSD | XLM-R-large" in table and "uner_zh_converged" not in table


def test_the_xpos_row_is_a_group_of_its_own_beside_the_published_upos_rows(tmp_path):
    """The published UD1.4 numbers are UPOS: our XPOS rows are not mixed into them, and the XPOS
    results get their own converged table."""
    results = tmp_path / "results"
    results.mkdir()
    _synthetic_zh(results, "ud_zh_xpos_converged", {"ce": [(0.80, 0.84)], "dsc": [(0.79, 0.83)]})
    lines = make_tables.chinese_beside_published_table(results).splitlines()
    xpos = [line for line in lines if line.startswith("| UD1.4 XPOS |")]
    assert len(xpos) == 2 and all("ours:" in line and "ud_zh_xpos_converged" in line for line in xpos)
    assert "84.00" in xpos[0] and "83.00" in xpos[1]
    assert not any(line.startswith("| UD1.4 |") and "ours:" in line for line in lines)
    table = make_tables.converged_ud_zh_xpos_table(results)
    assert "| CE | 0 | 200/400 | 80.00 | 84.00 | 84.00 | 84.00 | 84.00 |" in table, table


def _interval(delta: float, low: float, high: float) -> dict:
    return {"delta": delta, "low": low, "high": high, "resamples": 1000, "beyond_noise": low > 0 or high < 0}


def test_decision_intervals_resample_source_documents_where_test_names_them(tmp_path, monkeypatch):
    """A comparison beyond the noise of sentences but not of whole source documents is a tie in
    the decisions table and in the README's "Which loss to pick"; without source documents the
    sentence intervals stay."""
    rule = {"f": 0.5, "p": 0.5, "r": 0.5, "seconds": 1.0}
    runs = [{"name": name, "seed": 0, "rules": {"as_trained": rule, "calibrated": rule}} for name in ("ce", "dsc")]
    by_sentence = {"pooled": _interval(1.28, 0.15, 2.35), "seed 0": _interval(1.28, 0.15, 2.35)}
    by_source = {"pooled": _interval(1.28, -0.17, 2.60), "seed 0": _interval(1.28, -0.17, 2.60)}
    comparison = {"a": "ce/calibrated", "b": "dsc/calibrated", "seeds": [0], **by_sentence}
    for stem, extra in (("with_sources", {"by_source": by_source, "source_documents": 316}), ("no_sources", {})):
        data = {"meta": {"reference": "ce", "resamples": 1000}, "runs": runs, "comparisons": [{**comparison, **extra}]}
        (tmp_path / f"{stem}_decisions.json").write_text(json.dumps(data))
    with_sources = make_tables.decisions_table(tmp_path, "with_sources")
    assert "+1.28 [-0.17, +2.60]" in with_sources and "**+1.28" not in with_sources
    assert "the 316 source documents of test" in with_sources and "[+0.15, +2.35]" not in with_sources
    no_sources = make_tables.decisions_table(tmp_path, "no_sources")
    assert "**+1.28 [+0.15, +2.35]**" in no_sources and "resamples of the test docs" in no_sources
    monkeypatch.setattr(make_tables, "DECISION_SETTINGS", [("a setting", "with_sources")])
    readme = make_tables.which_loss_table(tmp_path)
    assert "| a setting |" not in readme and "the rule before the noise check" in readme, readme
    data = json.loads((tmp_path / "with_sources_decisions.json").read_text())
    for run in data["runs"]:
        run["rules"]["calibrated_rule_before"] = rule
    data["meta"]["source"] = "with_sources"
    (tmp_path / "with_sources_decisions.json").write_text(json.dumps(data))
    (tmp_path / "earlier_decisions.json").write_text(json.dumps(
        {"meta": {"reference": "ce", "source": "earlier"}, "runs": runs, "comparisons": []}))
    monkeypatch.setattr(make_tables, "DECISION_SETTINGS", [("a setting", "with_sources"), ("before", "earlier")])
    readme = make_tables.which_loss_table(tmp_path)
    assert "| a setting | DSC: +1.28 [-0.17, +2.60] (1) |" in readme, readme
    assert "| before |" not in readme and "noise check (models gone; in docs/BENCHMARKS.md): `earlier`." in readme
