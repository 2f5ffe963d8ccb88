"""The annotation side: from source articles to gold labels.

- :mod:`~stance.annotation.segment`: split an article into statements with exact spans;
- :mod:`~stance.annotation.corpus`: extract the statements of the seed articles, label counts;
- :mod:`~stance.annotation.passes`: annotation records, label sheets, validation, adjudication;
- :mod:`~stance.annotation.agreement`: Cohen's kappa, Krippendorff's alpha, confusion table;
- :mod:`~stance.annotation.datasheet`: the datasheet's figures and the annotation tables.
"""
