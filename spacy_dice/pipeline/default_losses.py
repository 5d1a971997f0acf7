"""The loss each component ships with, and why.

The rule: the paper's DSC unless measurements show another default trains better. On CPU
with the CNN configs (docs/BENCHMARKS.md, "Accuracy"; held-out test sets, dev for every choice),
cross-entropy trained better for tokens:

* NER, CoNLL-2003 test F1: CE 77.33 +- 0.42 (3 seeds), DSC 75.22 +- 1.27; UNER English-EWT test
  F1: CE 40.44 +- 1.32, DSC 37.14 +- 1.42 (spaCy's own ``ner``: 72.16 and 36.91);
* POS, UD English-EWT test accuracy: UPOS CE 90.99, DSC 89.96; XPOS CE 89.97, DSC 88.50;

while for exclusive-class text classification DSC matched CE (MRPC F1 of "paraphrase" 79.60 +- 0.63
vs 79.50 +- 0.71). So ``dice_ner`` and ``dice_tagger`` default to CE and ``dice_textcat`` to DSC;
switching is one ``[components.NAME.loss]`` block.

Trained to convergence (UNER, early stopping on dev, 2 seeds; docs/LOSSES.md) the decision holds:
no dice setting beats CE on dev by more than CE's seed-to-seed spread. DSC alone starts about 200
updates later and stays below CE on dev; the scheduled combination ``ce_then_dsc``
(``spacy-dice.ScheduledCombinedLoss.v1``) ties CE and is the setting to choose when a dice term is
wanted, but not a reason to change the default.

Each default is an entry of the one preset table, :mod:`spacy_dice.losses.presets` (``ce`` in its
softmax or sigmoid form, ``dsc`` in its softmax form), so a default and the preset of that name
are the same block.
"""

from ..losses.presets import loss_block

DSC_LOSS = loss_block("dsc", activation="softmax")
CE_LOSS = loss_block("ce", activation="softmax")

NER_DEFAULT_LOSS = CE_LOSS
TAGGER_DEFAULT_LOSS = CE_LOSS
TEXTCAT_DEFAULT_LOSS = DSC_LOSS

# Span components: sigmoid BCE for dice_spancat / dice_span_finder, CE for the
# single-label spancat. Chosen on dev F1 with early stopping (docs/BENCHMARKS.md, "The shipped
# default of dice_spancat"; CNN, 2 seeds per corpus): the rows ahead of BCE on the mean of UNER and
# CoNLL-2003 (bce_then_dsc, focal_sig, logdice_set) lead only on UNER, inside BCE's dev spread
# there (sd 3.51), and trail it on CoNLL-2003 (beyond its sd 0.07). No dice loss beat BCE beyond
# seed noise. BCE against spaCy's spancat on test: UNER 39.57 +- 0.08 vs 37.20 +- 0.83,
# CoNLL-2003 81.76 +- 0.41 vs 81.33 +- 0.30 (inside the spread at convergence).
BCE_LOSS = loss_block("ce", activation="sigmoid")
SPANCAT_DEFAULT_LOSS = BCE_LOSS
SPANCAT_SINGLELABEL_DEFAULT_LOSS = CE_LOSS
SPAN_FINDER_DEFAULT_LOSS = BCE_LOSS
