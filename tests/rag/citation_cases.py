"""A grounding with six passages about an island, for replies written to break the citation
rules (tests/rag/test_citations.py and tests/gui/test_citations_view.py)."""

from __future__ import annotations

from core.engine.types import ChatMessage
from core.rag.grounding import Grounding, Source, grounded_question

QUESTION = "When was the lighthouse on Kerrera island first lit by its keepers?"
LIGHTHOUSE = ("The lighthouse on Kerrera island was first lit by its keepers in 1882, after "
              "three winters of building on the basalt headland.")
OTHERS = (
    "Honeybees keep their hives warm in winter by clustering and shivering their wing muscles.",
    "The ferry to Kerrera runs every hour in summer and twice a day in winter.",
    "Basalt columns form when thick lava cools slowly and cracks into prisms.",
    "The island's school closed in 1997 when the last two pupils left.",
    "Otters feed along the eastern shore at dawn, mostly on crabs and small fish.",
)


def source(number: int, text: str) -> Source:
    return Source(number, f"/docs/source-{number}.md", None, None, text, "coast", number,
                  1 / (60 + number), None, None, None, None, number)


def grounding(count: int = 6) -> Grounding:
    texts = (LIGHTHOUSE, *OTHERS)[:count]
    sources = tuple(source(n, t) for n, t in enumerate(texts, start=1))
    prompt = grounded_question(QUESTION, sources)
    return Grounding(QUESTION, ("coast",), sources, 0, (ChatMessage("user", prompt),), prompt,
                     2048)
