"""What multiple-choice scoring returns, whoever scores: the local model or a model server.

:func:`core.evaluation.likelihood.score_choices` scores in process;
:meth:`core.remote_generation.RemoteGenerator.score_choices` asks a server, which may not be
able to (:class:`LikelihoodUnavailable`). Both return :class:`ChoiceScores`. The scoring
itself lives in those two modules; this one holds only the shared result and error types.

Example:
    >>> s = ChoiceScores((-2.0, -3.0), (1, 3))
    >>> s.best_sum, s.best_mean  # -2 vs -3 in total; -2 vs -1 per token
    (0, 1)
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import UserError


class LikelihoodUnavailable(UserError):
    """The server cannot score given text (no prompt log-probabilities)."""


@dataclass(frozen=True)
class ChoiceScores:
    """Per-choice summed log-probabilities and token counts, and both argmax rules."""

    logprob_sums: tuple[float, ...]
    token_counts: tuple[int, ...]

    @property
    def logprob_means(self) -> tuple[float, ...]:
        return tuple(s / max(1, n) for s, n in zip(self.logprob_sums, self.token_counts,
                                                    strict=True))

    @property
    def best_sum(self) -> int:
        return max(range(len(self.logprob_sums)), key=self.logprob_sums.__getitem__)

    @property
    def best_mean(self) -> int:
        means = self.logprob_means
        return max(range(len(means)), key=means.__getitem__)
