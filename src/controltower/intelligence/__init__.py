"""Prediction: how long a requested run will take and how likely it is to fail.

The pure parts (``records``, ``features``, ``baselines``, ``metrics``,
``explain``) compute from facts and return values; ``models`` wraps LightGBM,
``evaluation`` runs the protocol of ``shared/spec/prediction-evaluation.md``
and ``source`` reads the stored history.
"""
