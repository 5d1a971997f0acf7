"""thinc layers of spacy-dice and what every output layer a component may end in emits.

* :mod:`.logits`: the registered layers ``spacy-dice.SigmoidLogits.v1`` and
  ``spacy-dice.LinearLogits.v1`` (sigmoid forward, logit-gradient backward);
* :mod:`.char_ngrams`: ``spacy-dice.CharNgramEmbed.v1``, the embedding of a character token with
  the character n-grams around it (a CNN's features on character docs, Chinese);
* :mod:`.outputs`: which thinc output layers give probabilities or logits at prediction, which
  back-propagate logit or probability gradients, and the swap of a parameter-free ``Logistic`` for
  ``SigmoidLogits``.

Like spacy-transformers' ``layers/``, nothing here knows about spaCy components; the components'
refusals (:mod:`spacy_dice.pipeline.model_checks`) read :mod:`.outputs`.
"""
from .char_ngrams import char_ngram_embed
from .logits import linear_logits, sigmoid_logits

__all__ = ["char_ngram_embed", "linear_logits", "sigmoid_logits"]
