"""benchmarks/run_accuracy.py --variant: loss parameters and dotted config paths of a row."""
from __future__ import annotations

import pytest

from benchmark_scripts import load_benchmark_script

run_accuracy = load_benchmark_script("run_accuracy")


def test_undotted_keys_go_to_the_loss_and_dotted_keys_to_the_config():
    name, preset, params = run_accuracy.parse_variant(
        "dsc_lr=dsc:alpha=0.1,training.optimizer.learn_rate.initial_rate=0.0001")
    assert (name, preset) == ("dsc_lr", "dsc")
    loss, overrides = run_accuracy.split_variant_params(params)
    assert loss == {"alpha": 0.1}
    assert overrides == {"training.optimizer.learn_rate.initial_rate": 0.0001}
    config = run_accuracy.row_config("mrpc_trf", "dsc_lr", {"dsc_lr": (preset, params)})
    assert config["training"]["optimizer"]["learn_rate"]["initial_rate"] == 0.0001
    assert config["components"]["textcat"]["loss"]["alpha"] == 0.1
    shipped = run_accuracy.row_config("mrpc_trf", "dsc", {})
    assert shipped["training"]["optimizer"]["learn_rate"]["initial_rate"] == 0.00005
    assert shipped["components"]["textcat"]["loss"]["alpha"] == 0.01


def test_a_path_can_swap_a_registered_function():
    variants = {"ce_first": ("ce", {"components.textcat.model.tok2vec.pooling.@layers": "reduce_first.v1"})}
    config = run_accuracy.row_config("mrpc_trf", "ce_first", variants)
    assert config["components"]["textcat"]["model"]["tok2vec"]["pooling"] == {"@layers": "reduce_first.v1"}
    assert "reduce_first.v1" in config.to_str()


def test_a_path_that_is_not_in_the_config_is_named():
    with pytest.raises(SystemExit, match=r"'bad': the config has no section \[training.optimiser\]"):
        run_accuracy.row_config("mrpc_trf", "bad", {"bad": ("ce", {"training.optimiser.L2": 0.0})})
    with pytest.raises(SystemExit, match=r"\[training.optimizer\] has no key 'l2' \(it has: .*L2"):
        run_accuracy.row_config("mrpc_trf", "bad", {"bad": ("ce", {"training.optimizer.l2": 0.0})})
