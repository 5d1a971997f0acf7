"""spacy-dice: the losses of "Dice Loss for Data-imbalanced NLP Tasks" (Li et al., ACL 2020) for spaCy.

Importing the package registers its losses (``spacy-dice.*.v1`` in thinc's ``losses`` registry) and
its six components (``dice_tagger``, ``dice_ner``, ``dice_textcat``, ``dice_spancat``,
``dice_spancat_singlelabel``, ``dice_span_finder``); a pipeline that uses them also loads without this
import, through the ``thinc_losses`` and ``spacy_factories`` entry points.
"""
from . import losses, pipeline  # noqa: F401  (registers the losses and the factories)

__version__ = "0.1.0"
