"""A LangChain retriever over the experience memory."""

from __future__ import annotations

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from flowpo.memory.store import MemoryStore


class MemoryRetriever(BaseRetriever):
    """Return the memory's records most similar to a query as LangChain documents.

    Each document's ``page_content`` is the record text; its metadata holds every other
    record field plus ``similarity``.

    Attributes:
        store: The memory to search.
        k: Documents per query.
        kind: Only records of this kind (``None``: any).
        task: Only records of this task (``None``: any).
        min_score: Only records scored at least this (``None``: any).
    """

    store: MemoryStore
    k: int = 4
    kind: str | None = None
    task: str | None = None
    min_score: float | None = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        """Search the memory and wrap each hit in a Document."""
        hits = self.store.search(
            query, self.k, kind=self.kind, task=self.task, min_score=self.min_score
        )
        docs = []
        for record, similarity in hits:
            meta = record.to_dict()
            meta.pop("text")
            meta["similarity"] = similarity
            docs.append(Document(page_content=record.text, metadata=meta))
        return docs
