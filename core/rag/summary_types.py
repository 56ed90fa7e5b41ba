"""What summarizing a collection's documents reports (issue 17, whole-collection questions).

Each indexed document gets a few sentences written by the chat model, in the background after
indexing; a question about the collection as a whole ("summarize each file", "which of my
files talk about X") then reads them beside the titles and headings. A summary belongs to one
version of its document: when the document is re-indexed with other content, its summary is
stale and is written again by the next run.
"""

from __future__ import annotations

from dataclasses import dataclass

# started: the run's first event (total known); summarized / failed: one document each;
# finished / cancelled: the last event.
SUMMARY_STAGES = ("started", "summarized", "failed", "finished", "cancelled")


@dataclass(frozen=True)
class SummaryProgress:
    """One step of summarizing a collection; the last event is finished or cancelled."""

    stage: str
    done: int  # documents summarized (or failed) in this run so far
    total: int  # documents this run has to summarize (missing or stale summaries)
    path: str | None = None
    summary: str | None = None
    error: str | None = None
    elapsed_s: float = 0.0
    eta_s: float | None = None


@dataclass(frozen=True)
class DocumentSummary:
    """A document's summary as stored."""

    path: str
    summary: str
    model: str  # the file name of the model that wrote it
    made_at: float  # seconds since the epoch
