"""Follow-up condensation: the rule without a model, the prompt with one."""

from __future__ import annotations

from collections.abc import Iterator

from assistant.backends.base import BackendUnavailable
from assistant.condense import condense, looks_like_follow_up, rule_condense


class QueuedGenerator:
    """A deterministic generator that streams queued replies (same route as a real one)."""

    name = "fake"

    def __init__(self, *replies: str):
        self.replies = list(replies)
        self.prompts: list[tuple[str, str]] = []

    def stream(self, system: str, user: str) -> Iterator[str]:
        self.prompts.append((system, user))
        reply = self.replies.pop(0)
        if reply == "!fail":
            raise BackendUnavailable("server down")
        for i in range(0, len(reply), 7):
            yield reply[i : i + 7]


HISTORY = [("What are Luxembourg's RIS3 priorities?", "ICT, logistics and health [1].")]


class TestCondense:
    def test_detects_follow_ups(self):
        assert looks_like_follow_up("And monitoring?")
        assert looks_like_follow_up("How is it monitored?")
        assert not looks_like_follow_up(
            "Which growth areas did the Estonian Development Fund select in the qualitative "
            "analysis of 2013?"
        )

    def test_rule_anchors_to_previous_question(self):
        assert rule_condense("And its monitoring?", HISTORY) == (
            "And its monitoring? (What are Luxembourg's RIS3 priorities?)"
        )
        standalone = "Which growth areas did the Estonian Development Fund select for the plan?"
        assert rule_condense(standalone, HISTORY) == standalone

    def test_no_history_no_change(self):
        assert condense("And monitoring?", [], QueuedGenerator("x")) == "And monitoring?"

    def test_generator_rewrite_is_used(self):
        gen = QueuedGenerator("How is Luxembourg's RIS3 monitored?")
        assert (
            condense("How is it monitored?", HISTORY, gen) == "How is Luxembourg's RIS3 monitored?"
        )
        assert "Luxembourg's RIS3 priorities" in gen.prompts[0][1]

    def test_generator_failure_falls_back_to_rule(self):
        out = condense("And its monitoring?", HISTORY, QueuedGenerator("!fail"))
        assert out.startswith("And its monitoring? (")

    def test_unusable_rewrite_falls_back(self):
        out = condense("And its monitoring?", HISTORY, QueuedGenerator("x" * 1000))
        assert out.startswith("And its monitoring? (")
