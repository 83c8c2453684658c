"""The word groups a rule's `prefilter` names, and the words that stand for each in a file's text."""

from __future__ import annotations

from bnlint import knowledge

# A scan interprets code (with the project modules it imports) only when, for some selected rule,
# it mentions a word of each group the rule lists. BN001, BN002 and BN004 need a freeze, a
# training event and something that builds BatchNormalization (a known constructor: the words
# come from rules/knowledge), BN003 a freeze, a training event and a compile(), BN005
# `training=True` and BatchNormalization; a rule without a prefilter has every Keras file read
# for it. The groups are listed cheapest first (`source.search_order`): one that most files lack,
# with few words, rules a file out soonest.
PREFILTER_WORDS: dict[str, tuple[str, ...]] = {
    "training-true": ("training=True", "training = True"),
    "freeze": ("trainable", "freeze", "Freeze", "KerasLayer"),
    "compile": ("compile(",),
    "training": ("fit(", "fit_generator(", "train_on_batch(", "apply_gradients(", "minimize(", "train_step",
                 "model_to_estimator", "train(", ".apply("),
    "batchnorm": knowledge.batchnorm_words(),
    "suppression": ("noqa", "bnlint:"),
}
