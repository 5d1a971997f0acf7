"""What the ``spacy project`` template (``project.yml``) runs to prepare one run, as functions a
program can call: the data sets and their conversion to ``.spacy`` files (:mod:`.datasets`) and the
run's training config (:mod:`.configs`). The ``project-convert`` and ``project-config`` commands
(:mod:`spacy_dice.cli.project`) wrap them."""
from .configs import project_config, set_run_settings, template_path
from .datasets import (
    CUSTOM_TASKS,
    DATASETS,
    SPAN_TASKS,
    ConvertedDataset,
    Dataset,
    DatasetError,
    MissingCustomFile,
    check_task,
    convert_dataset,
    custom_dataset,
    get_dataset,
)

__all__ = [
    "CUSTOM_TASKS",
    "DATASETS",
    "SPAN_TASKS",
    "ConvertedDataset",
    "Dataset",
    "DatasetError",
    "MissingCustomFile",
    "check_task",
    "convert_dataset",
    "custom_dataset",
    "get_dataset",
    "project_config",
    "set_run_settings",
    "template_path",
]
