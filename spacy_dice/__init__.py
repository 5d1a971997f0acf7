"""spacy-dice: the losses of "Dice Loss for Data-imbalanced NLP Tasks" (Li et al., ACL 2020) for spaCy."""
__version__ = "0.1.0"
