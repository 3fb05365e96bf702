"""How many tokens a run may need, so it can hold them all when it is admitted.

The figures are upper bounds built from the caps every call already has (its
maximum output, and prompts that are cut to size), so an admitted run can be
afforded to its end. ``rpi`` holds research + plan + steps + key facts at
admission, then, once a person approves the plan, resizes its hold to what
that plan needs (``save.estimate_plan``).
"""

from __future__ import annotations

from app.llm.resolve import MAX_OUTPUT_TOKENS

SELECT_MAX_OUTPUT = 300
AGENT_SHARE = 4_000  # one sub-agent's screening call: its cut candidates plus the answer
SYNTHESIS_TOKENS = 4_000 + MAX_OUTPUT_TOKENS
PLAN_TOKENS = 3_000 + MAX_OUTPUT_TOKENS
PLAN_STEPS_MAX = 8  # what the planner is asked for; an edited plan is re-estimated
STEP_TOKENS = 2_000 + MAX_OUTPUT_TOKENS
FACTS_TOKENS = 3_000 + MAX_OUTPUT_TOKENS


def research_estimate(agents: int) -> int:
    """A research run: each sub-agent's share, then the synthesis."""
    return agents * AGENT_SHARE + SYNTHESIS_TOKENS


def rpi_estimate(agents: int) -> int:
    """An ``rpi`` run: research, the plan, the largest plan asked for, the key facts."""
    return research_estimate(agents) + PLAN_TOKENS + PLAN_STEPS_MAX * STEP_TOKENS + FACTS_TOKENS
