"""spaCy components whose loss is a config block: dice_tagger, dice_ner, dice_seg_tagger, dice_textcat,
dice_spancat, dice_spancat_singlelabel, dice_span_finder. Importing a component's module registers
its factory and its description (:mod:`.descriptions`, what the tools read about it)."""
from .ner import DiceEntityRecognizer, make_dice_ner
from .seg_tagger import DiceSegTagger, make_dice_seg_tagger
from .span_finder import DiceSpanFinder, make_dice_span_finder
from .spancat import DiceSpanCategorizer, make_dice_spancat, make_dice_spancat_singlelabel
from .tagger import DiceTagger, make_dice_tagger
from .textcat import DiceTextCategorizer, make_dice_textcat

__all__ = [
    "DiceTagger",
    "DiceEntityRecognizer",
    "DiceSegTagger",
    "DiceTextCategorizer",
    "make_dice_tagger",
    "make_dice_ner",
    "make_dice_seg_tagger",
    "make_dice_textcat",
    "DiceSpanCategorizer",
    "DiceSpanFinder",
    "make_dice_spancat",
    "make_dice_spancat_singlelabel",
    "make_dice_span_finder",
]
