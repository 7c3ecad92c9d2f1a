"""The outbox's tables: webhook endpoints, the events written in the transaction of the change they
report, their deliveries to each endpoint, and every attempt (store/outbox.py reads and writes them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, false
from sqlmodel import Field, SQLModel

from agentik_cli.store.models import json_list, utcnow


class WebhookEndpoint(SQLModel, table=True):
    """A URL that receives events: those of one agent or of all (agent_id None), of the types in
    `events` or of every type ([]). Its signing secret is kept here, where every process that
    delivers (any machine on a PostgreSQL store) can read it; it is never printed after `add`."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: int | None = Field(default=None, primary_key=True)
    url: str
    agent_id: int | None = None
    agent_name: str | None = None  # the agent's name when the endpoint was added
    events: list = Field(default_factory=list, sa_column=json_list())
    secret: str
    status: str = "active"  # active | failing | disabled
    failures: int = 0  # failed attempts in a row
    created_at: datetime = Field(default_factory=utcnow)
    user_name: str = ""
    # on a shared store, internal addresses (loopback, private, ...) are refused unless this
    allow_internal: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class WebhookEvent(SQLModel, table=True):
    """The outbox: an event, written in the transaction of the change it reports, with its body as
    it is sent (`uid` is its webhook-id)."""

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_by_subject", "subject"), {"sqlite_autoincrement": True})

    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(unique=True)
    type: str
    # the record it carries ("message:12", "session:3"): forgetting a message finds its events
    subject: str | None = None
    body: str
    created_at: datetime = Field(default_factory=utcnow)


class WebhookDelivery(SQLModel, table=True):
    """One event to one endpoint: pending until it is delivered, given up on (failed) or dropped
    (its endpoint disabled). A process sending it holds it until `claimed_until`."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "state", "next_at"),
        Index("ix_webhook_deliveries_by_endpoint", "endpoint_id", "state"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(
        sa_column=Column(Integer, ForeignKey("webhook_events.id", ondelete="CASCADE"), nullable=False)
    )
    endpoint_id: int = Field(
        sa_column=Column(Integer, ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False)
    )
    state: str = "pending"  # pending | delivered | failed | dropped
    attempts: int = 0
    next_at: datetime = Field(default_factory=utcnow)
    claimed_until: datetime | None = None
    delivered_at: datetime | None = None


class WebhookAttempt(SQLModel, table=True):
    """One try of a delivery: the answer's status and its first kilobyte, or the error."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        Index("ix_webhook_attempts_by_delivery", "delivery_id"),
        Index("ix_webhook_attempts_by_time", "at"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(
        sa_column=Column(Integer, ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False)
    )
    attempt: int
    status_code: int | None = None
    error: str | None = None
    answer: str | None = None
    delivered: bool = False
    at: datetime = Field(default_factory=utcnow)
