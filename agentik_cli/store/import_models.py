"""The tables of imports from other tools' logs (`costs import --from`): each file read, with the
source's mark of where its next read starts, each source session's agentik session, and the keys of
imported messages removed since."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer
from sqlmodel import Field, SQLModel

from agentik_cli.store.models import utcnow


class ImportFile(SQLModel, table=True):
    """A file read: which file it was (device and inode), its size and time when read, and the mark
    (the source's own JSON) where the next read starts. Written in the transaction that stores what
    was read."""

    __tablename__ = "import_files"

    source: str = Field(primary_key=True)
    path: str = Field(primary_key=True)
    identity: str
    size: int = Field(sa_type=BigInteger)
    mtime_ns: int = Field(sa_type=BigInteger)
    mark: str
    updated_at: datetime = Field(default_factory=utcnow)


class ImportSession(SQLModel, table=True):
    """A source's session (Claude Code's sessionId, ...) and the agentik session it became."""

    __tablename__ = "import_sessions"
    __table_args__ = (Index("ix_import_sessions_by_session", "session_id"),)

    source: str = Field(primary_key=True)
    source_key: str = Field(primary_key=True)
    session_id: int = Field(sa_column=Column(Integer, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False))
    project: str = ""  # the folder the tool ran in, its last part: what the session's title starts with


class ImportRemoved(SQLModel, table=True):
    """The key of an imported message that was removed (`sessions remove`, `sessions forget`, `agents
    remove`): a later read of its file does not bring it back."""

    __tablename__ = "import_removed"

    import_key: str = Field(primary_key=True)
