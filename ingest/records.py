"""LangChain's SQL record manager for chunk keys, with the few queries our pipeline needs."""

from __future__ import annotations

from typing import Any

from langchain_classic.indexes import SQLRecordManager
from sqlalchemy import select

from s3assist.settings import Settings


class ChunkRecords:
    """Chunk key -> document (group id) bookkeeping shared with ``langchain_core.indexing``."""

    def __init__(self, settings: Settings):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.namespace = f"chroma/{settings.collection}"
        self.manager = SQLRecordManager(
            self.namespace,
            db_url=f"sqlite:///{settings.records_db}",
            engine_kwargs={"connect_args": {"timeout": 30}},
        )
        self.manager.create_schema()

    def _keys(self, group_id: str | None = None) -> list[str]:
        from langchain_classic.indexes._sql_record_manager import UpsertionRecord

        with self.manager._make_session() as session:
            query: Any = select(UpsertionRecord.key).where(
                UpsertionRecord.namespace == self.namespace
            )
            if group_id is not None:
                query = query.where(UpsertionRecord.group_id == group_id)
            return [row[0] for row in session.execute(query)]

    def all_keys(self) -> set[str]:
        return set(self._keys())

    def keys_for(self, doc_id: str) -> list[str]:
        return self._keys(doc_id)

    def delete_keys(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 500):
            self.manager.delete_keys(keys[start : start + 500])

    def clear(self) -> None:
        self.delete_keys(sorted(self.all_keys()))
