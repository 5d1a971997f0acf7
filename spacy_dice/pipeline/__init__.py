"""spaCy components whose loss is a config block: dice_tagger, dice_ner, dice_textcat."""
from .ner import DiceEntityRecognizer, make_dice_ner
from .tagger import DiceTagger, make_dice_tagger
from .textcat import DiceTextCategorizer, make_dice_textcat

__all__ = [
    "DiceTagger",
    "DiceEntityRecognizer",
    "DiceTextCategorizer",
    "make_dice_tagger",
    "make_dice_ner",
    "make_dice_textcat",
]
