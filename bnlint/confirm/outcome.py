"""What a dynamic check is given (the subject) and what it returns (the outcome)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Subject:
    """A model to call and the layer whose BN layers a finding is about."""

    model: object
    callee: object
    # Remedy (a): the same model rebuilt with `training=False` where the callee is called.
    # Returns (model, callee, shares_layers) or None when the composition has no call site.
    with_training_false: Callable[[], tuple[object, object, bool] | None] | None = None


@dataclass
class Outcome:
    """A check's result: its status and numbers, and the sentence that says what it measured."""

    status: str  # confirmed / refuted / unconfirmed
    mode: str | None
    metrics: dict
    remedies: dict
    verdict: str  # the second half of the reason sentence
    notes: list[str] = field(default_factory=list)  # what could not be measured
