"""The loss family of Li et al. (ACL 2020) as thinc losses, for spaCy components.

Nine losses, each registered in thinc's ``losses`` registry as ``spacy-dice.<Class>.v1``:

* :class:`CrossEntropy`: CE, and with ``class_weights`` the paper's weighted CE (WCE);
* :class:`FocalLoss`: focal loss, optionally class-weighted;
* :class:`DiceLoss`: dice loss (``alpha = 0``) and the paper's self-adjusting DSC (``alpha > 0``);
* :class:`LogDiceLoss`: ``-log`` of the (self-adjusting) dice coefficient;
* :class:`TverskyLoss`: Tversky loss (false positives and false negatives weighed apart);
* :class:`CombinedLoss`: a weighted sum of any of these (e.g. CE + DSC);
* :class:`ScheduledCombinedLoss`: a weighted sum whose weights follow schedules over the updates
  (e.g. CE first, then DSC; ``spacy-dice.LinearRamp.v1`` in thinc's ``schedules`` registry).

Counted as the paper names them (CE, WCE, focal, dice, DSC, Tversky, log-dice, combined,
scheduled), nine losses come from these seven classes.

Each class is its own registered function (``@registry.losses`` above the class, as thinc keeps each
``configure_X`` beside its class): the constructor's signature IS the config signature, its defaults
are the config defaults, and nothing repeats them. The ``thinc_losses`` entry points of ``setup.cfg``
name the classes too, so a config resolves the losses without importing ``spacy_dice``. A ``.v1``
name never changes behaviour: a constructor change that would (a renamed or removed argument, a new
default) needs a ``.v2`` name for the new form and a function that keeps the ``.v1`` one.
"""
from .base import DiceFamilyLoss
from .combined import CombinedLoss
from .cross_entropy import CrossEntropy, FocalLoss
from .dice import DiceLoss
from .log_dice import LogDiceLoss
from .scheduled import ScheduledCombinedLoss
from .schedules import linear_ramp_v1
from .tversky import TverskyLoss

__all__ = [
    "DiceFamilyLoss",
    "CrossEntropy",
    "FocalLoss",
    "DiceLoss",
    "LogDiceLoss",
    "TverskyLoss",
    "CombinedLoss",
    "ScheduledCombinedLoss",
    "linear_ramp_v1",
]
