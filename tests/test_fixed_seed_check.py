"""benchmarks/fixed_seed_check.py: the comparison that says a refactor changed no score."""
import json
from pathlib import Path

from benchmark_scripts import load_benchmark_script

load_benchmark_script("run_main_job")  # fixed_seed_check imports it as a sibling script
check = load_benchmark_script("fixed_seed_check")


def test_flatten_keeps_every_number_of_nested_metrics():
    metrics = {"ents_f": 0.43, "ents_per_type": {"LOC": {"p": 0.4, "f": 0.35}}, "speed": 100, "name": "x"}
    assert check.flatten(metrics) == {
        "ents_f": 0.43, "ents_per_type.LOC.p": 0.4, "ents_per_type.LOC.f": 0.35, "speed": 100.0
    }


def test_compare_names_each_changed_or_missing_score():
    recorded = {"main_job": {"ents_f": 0.43, "ents_p": 0.5}, "spans": {"spans_sc_f": 0.38}}
    assert check.differences(recorded, recorded, 0.0) == []
    found = {"main_job": {"ents_f": 0.4388, "ents_p": 0.5}}
    assert check.differences(recorded, found, 0.0) == [
        "main_job: ents_f was 0.43, now 0.4388",
        "spans: spans_sc_f was 0.38, now None",
    ]
    assert check.differences(recorded, {"main_job": {"ents_f": 0.43 + 1e-12, "ents_p": 0.5}, "spans": recorded["spans"]}, 1e-9) == []


def test_recorded_results_cover_every_run():
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "results" / "fixed_seed.json"
    record = json.loads(path.read_text(encoding="utf8"))
    assert set(record["scores"]) == set(check.RUNS)
    assert all(record["scores"][run] for run in check.RUNS)
