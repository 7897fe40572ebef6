"""Errors of the predictive package: each says what is wrong and what to do about it."""

from __future__ import annotations

__all__ = ["ArtifactError", "BadTarget", "NoFeatures", "PredictiveError", "TooFewOutcomes"]

#: the fewest conversions (and non-conversions) a model is trained from
MIN_CLASS = 30
#: the fewest of each class each of the validation and test parts must hold
MIN_CLASS_PER_PART = 5


class PredictiveError(ValueError):
    """Base class: a clear message, nothing written."""


class BadTarget(PredictiveError):
    """The target column is missing, not binary, or holds a single class."""


class TooFewOutcomes(PredictiveError):
    """Not enough conversions (or non-conversions) to train and check a model."""

    def __init__(self, positives: int, negatives: int, needed: int = MIN_CLASS, detail: str = "") -> None:
        self.positives, self.negatives, self.needed = positives, negatives, needed
        msg = (f"too few outcomes to train: {positives} converted and {negatives} not converted; at least "
               f"{needed} of each are needed{detail}. Keep using the rule-based score until more outcomes are "
               "recorded (the rule-based score stays in charge).")
        super().__init__(msg)


class NoFeatures(PredictiveError):
    """Every candidate feature is constant, all missing or excluded."""


class ArtifactError(PredictiveError):
    """A model artifact is missing, corrupt, from another format version, or would be overwritten."""
