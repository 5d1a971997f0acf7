"""``python -m spacy_dice init-config``: complete training configs for spacy-dice components.

spaCy's ``init config`` builds only spaCy's own components; this writes the same kind of config
for ``dice_ner``, ``dice_tagger``, ``dice_textcat`` and the span components, on a shared CNN or
transformer backbone, with a loss preset by name. See :func:`generate_config`.
"""
from .backbones import BACKBONES, Backbone, get_backbone
from .build import build_config, generate_config, parse_loss_spec
from .components import COMPONENTS, ComponentEntry, available, get_entry

__all__ = [
    "BACKBONES",
    "COMPONENTS",
    "Backbone",
    "ComponentEntry",
    "available",
    "build_config",
    "generate_config",
    "get_backbone",
    "get_entry",
    "parse_loss_spec",
]
