"""`ConversationLog`: every patient turn, durably, for the staff console and for audits.

One row per turn (the patient's message, the reply the patient saw, the trace staff read, the patient's
feedback), grouped by a random conversation id. Staff verdicts hang off turns, so turn ids never change:
they are autoincrement keys that are never reused, even after retention pruning.

Privacy: e-mail addresses and phone numbers are masked before anything the patient typed is stored — the
message, the feedback comment, and the trace where it echoes the patient's words (queries, guard inputs; the
contacts found in the message are masked wherever they were copied, and ids, offsets and scores are never
touched: `mask_typed`). The reply text and quotes are stored as shown: they are document text, and staff must be able
to check them against the source files.

Durability: SQLite runs in WAL mode with `synchronous=FULL`, so a turn whose commit returned survives a
killed server (and a power cut). Any SQLAlchemy URL works (`VERBATIM_DATABASE_URL`); only Core is used.
SQLite is the embedded default (one process); PostgreSQL (`postgresql+psycopg://…`) is the database that
several workers share.

Schema: created on first start, versioned in `schema_version`, upgraded step by step (`MIGRATIONS`). With
PostgreSQL the check runs under an advisory lock (`ingest.database.schema_lock`), so workers starting together
migrate once.

Everything SQL about the log is in this module: the staff console reads and writes only through the public
methods of `ConversationLog` (`turns`, `iter_turns`, `turn_summaries`, `reasons`, `add_verdict`, ...).
Retention pruning is housekeeping the composition root schedules (`store.retention.RetentionTimer`): it never
runs inside a patient's request.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.types import Reply, jsonable
from ingest.database import schema_lock, use_wal

from .locks import try_housekeeping_lock

log = logging.getLogger("verbatim.conversation_log")

# --------------------------------------------------------------------------------------------- masking

EMAIL_MASK = "[email]"
PHONE_MASK = "[phone]"

_EMAIL = re.compile(r"(?<![\w.+-])[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
# A phone-number candidate: optional +/00 prefix, then digits with the separators people type
# (spaces, dots, dashes, slashes, parentheses). `_is_phone` then decides by the count of digits.
_PHONE_CANDIDATE = re.compile(r"(?<![\w+])(?:\+|\b00)?\(?\d[\d \t().\-/]{5,}\d\)?(?![\w])")
# Number shapes that are not phone numbers: dates (2025-07-04, 04.07.2025, 4/7/2025), year ranges.
_NOT_PHONE = re.compile(
    r"^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}|\d{4}\s*[-–/]\s*\d{4})$"
)


def _is_phone(candidate: str) -> bool:
    digits = sum(c.isdigit() for c in candidate)
    return 7 <= digits <= 15 and not _NOT_PHONE.match(candidate.strip("()"))


def mask_contacts(text: str) -> str:
    """Replace e-mail addresses and phone numbers with `[email]` / `[phone]`.

    Errs on the side of masking: a long run of digits a patient typed is more likely a phone number or an
    id than something staff need. Dates and year ranges are kept.
    """
    if not text:
        return text
    text = _EMAIL.sub(EMAIL_MASK, text)
    return _PHONE_CANDIDATE.sub(lambda m: PHONE_MASK if _is_phone(m.group(0)) else m.group(0), text)


def storable(value: Any) -> Any:
    """`value` with NUL characters replaced (U+FFFD) in every string: PostgreSQL's text and JSON refuse them,
    and a patient can type one. Everything else is unchanged."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, Mapping):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable(v) for v in value]
    return value


def contacts_in(text: str) -> list[str]:
    """The e-mail addresses and phone numbers in `text`, as typed."""
    found = _EMAIL.findall(text or "")
    return found + [m.group(0) for m in _PHONE_CANDIDATE.finditer(_EMAIL.sub(" ", text or "")) if _is_phone(m.group(0))]


def mask_typed(value: Any, typed: Iterable[str]) -> Any:
    """A trace with the contacts found in the patient's own text (`typed`) masked wherever the bot copied
    them, and nothing else: passage ids ("002_….txt:14603-14761"), offsets and scores are not the patient's
    words and stay exactly as they are. Pieces of a number or address (a query's terms "0612", "345678")
    are masked where a string is exactly such a piece."""
    literals = sorted({c for t in typed for c in contacts_in(t)}, key=len, reverse=True)
    if not literals:
        return value
    pieces = {p for c in literals for p in re.findall(r"[^\W_]{3,}", c)}

    def mask(text: str) -> str:
        if text in pieces:
            return PHONE_MASK if text.isdigit() else EMAIL_MASK
        for c in literals:
            text = text.replace(c, EMAIL_MASK if "@" in c else PHONE_MASK)
        return text

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            return mask(v)
        if isinstance(v, Mapping):
            return {walk(k) if isinstance(k, str) else k: walk(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [walk(x) for x in v]
        return v

    return walk(value)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


# ---------------------------------------------------------------------------------------------- schema

SCHEMA_VERSION = 2
FEEDBACK_RATINGS = ("up", "down")
VERDICTS = ("correct", "incorrect", "unsafe")
MAX_COMMENT_CHARS = 500
MAX_NOTE_CHARS = 2000


class UTCDateTime(sa.TypeDecorator):
    """Timezone-aware UTC in Python, naive UTC in the database (SQLite has no time zones)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


metadata = sa.MetaData()

schema_version_table = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("applied_at", UTCDateTime, nullable=False),
)

conversations_table = sa.Table(
    "conversations",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("last_turn_at", UTCDateTime, nullable=False, index=True),
    sa.Column("turn_count", sa.Integer, nullable=False, default=0),
)

turns_table = sa.Table(
    "turns",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(64), sa.ForeignKey("conversations.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("ordinal", sa.Integer, nullable=False),  # 1, 2, … within the conversation
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),  # when the patient sent the message
    sa.Column("completed_at", UTCDateTime, nullable=False),  # when the reply was complete
    sa.Column("latency_ms", sa.BigInteger, nullable=False),  # 64-bit on PostgreSQL too (SQLite integers always are)
    sa.Column("message", sa.Text, nullable=False),  # masked
    sa.Column("kind", sa.String(32), nullable=False, index=True),
    sa.Column("reason", sa.String(64)),
    sa.Column("reply_text", sa.Text, nullable=False),
    sa.Column("quotes", sa.JSON, nullable=False),
    sa.Column("trace", sa.JSON, nullable=False),  # masked
    sa.Column("feedback", sa.String(8)),  # "up" | "down" | NULL
    sa.Column("feedback_comment", sa.Text),  # masked
    sa.Column("feedback_at", UTCDateTime),
    sa.UniqueConstraint("conversation_id", "ordinal"),
    sqlite_autoincrement=True,  # ids of pruned turns are never handed out again
)

# v2: staff verdicts (the staff console writes them; several per turn, newest last).
verdicts_table = sa.Table(
    "verdicts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("turn_id", sa.Integer, sa.ForeignKey("turns.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("staff_user", sa.String(128), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("verdict", sa.String(16), nullable=False),
    sa.Column("note", sa.Text, nullable=False, default=""),
    sqlite_autoincrement=True,
)


def _migrate_1_to_2(conn: Connection) -> None:
    verdicts_table.create(conn, checkfirst=True)


# target version → the step that brings the previous version there. Fresh databases get the newest
# schema from `metadata` directly; existing ones run every step above their stamped version, in order.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {2: _migrate_1_to_2}


class SchemaTooNewError(RuntimeError):
    pass


# --------------------------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Verdict:
    id: int
    turn_id: int
    staff_user: str
    created_at: datetime
    verdict: str
    note: str


@dataclass(frozen=True)
class Turn:
    id: int
    conversation_id: str
    ordinal: int
    created_at: datetime
    completed_at: datetime
    latency_ms: int
    message: str
    kind: str
    reason: str | None
    reply_text: str
    quotes: list[dict[str, Any]]
    trace: dict[str, Any]
    feedback: str | None
    feedback_comment: str | None
    feedback_at: datetime | None
    verdicts: tuple[Verdict, ...] = field(default=())


@dataclass(frozen=True)
class TurnSummary:
    """What the dashboard counts of one turn: when it was sent, its kind, the thumbs, the latest verdict."""

    created_at: datetime
    kind: str
    feedback: str | None
    verdict: str | None  # the latest verdict, None when not reviewed


@dataclass(frozen=True)
class ConversationSummary:
    id: str
    started_at: datetime
    last_turn_at: datetime
    turn_count: int


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_conversation_id() -> str:
    """Unguessable: a patient's conversation must not be reachable by counting."""
    return secrets.token_urlsafe(16)


# ------------------------------------------------------------------------------------------------- log


class ConversationLog:
    """The conversation log. Thread-safe; one instance per process is enough.

    Patient side: `record_turn`, `set_feedback`. Staff side: `turns` (filters), `count_turns`, `iter_turns`
    (exports), `turn_summaries` (dashboard), `reasons`, `turn`, `conversations`, `conversation`, `add_verdict`,
    `verdicts`. Housekeeping: `prune` (retention; scheduled by the composition root, never per request).
    """

    def __init__(self, url: str, *, retention_days: int = 0, clock: Callable[[], datetime] = utcnow) -> None:
        self.url = url
        self.retention_days = retention_days
        self.clock = clock
        self.engine = self._create_engine(url)
        # SQLite allows one writer at a time; serialising our own writes avoids "database is locked" under
        # load (busy_timeout covers writers in other processes, e.g. a staff export).
        self._write_lock = threading.Lock()
        self.schema_version = self._ensure_schema()

    @classmethod
    def from_settings(cls, settings) -> "ConversationLog":
        """From the `log` section of the settings (`ingest.settings.LogSettings`)."""
        return cls(settings.log_database_url, retention_days=settings.retention_days)

    @staticmethod
    def _create_engine(url: str) -> Engine:
        sa_url = sa.make_url(url)
        if sa_url.get_backend_name() != "sqlite":
            return sa.create_engine(url, pool_pre_ping=True)
        if sa_url.database and sa_url.database != ":memory:":
            path = Path(sa_url.database)
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                # patients' messages and staff password hashes: readable by the server's user only (SQLite gives
                # its -wal and -shm files the mode of the database file; an empty file is an empty database)
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            dbapi_conn.execute("PRAGMA busy_timeout=30000")
            use_wal(dbapi_conn)
            dbapi_conn.execute("PRAGMA synchronous=FULL")  # a returned commit is on disk
            dbapi_conn.execute("PRAGMA foreign_keys=ON")

        return engine

    def _ensure_schema(self) -> int:
        with self._write_lock, self.engine.begin() as conn:
            schema_lock(conn)  # workers starting together: one creates or migrates, the others then find it current
            if not sa.inspect(conn).has_table("schema_version"):
                metadata.create_all(conn)
                conn.execute(schema_version_table.insert().values(version=SCHEMA_VERSION, applied_at=self.clock()))
                return SCHEMA_VERSION
            current = conn.execute(sa.select(sa.func.max(schema_version_table.c.version))).scalar() or 0
            if current > SCHEMA_VERSION:
                raise SchemaTooNewError(
                    f"The conversation log at {self.engine.url.render_as_string(hide_password=True)} has schema "
                    f"version {current}, newer than this code understands ({SCHEMA_VERSION}). Upgrade Verbatim.")
            for target in range(current + 1, SCHEMA_VERSION + 1):
                log.info("migrating the conversation log to schema version %d", target)
                MIGRATIONS[target](conn)
                conn.execute(schema_version_table.insert().values(version=target, applied_at=self.clock()))
            return SCHEMA_VERSION

    def close(self) -> None:
        self.engine.dispose()

    # ---------------------------------------------------------------------------------------- patient

    def record_turn(
        self,
        conversation_id: str,
        message: str,
        reply: Reply,
        *,
        started_at: datetime,
        completed_at: datetime | None = None,
    ) -> int:
        """Store one turn (committed when this returns) and return its id."""
        completed_at = completed_at or self.clock()
        row = {
            "conversation_id": conversation_id,
            "created_at": started_at,
            "completed_at": completed_at,
            "latency_ms": max(0, round((completed_at - started_at).total_seconds() * 1000)),
            "message": storable(mask_contacts(message)),
            "kind": reply.kind,
            "reason": reply.reason,
            "reply_text": storable(reply.text),
            "quotes": storable([jsonable(q.to_dict()) for q in reply.quotes]),
            # what the patient typed: the message, and the earlier message a follow-up carried (the query)
            "trace": storable(mask_typed(jsonable(reply.trace or {}),
                                         [message, *_strings((reply.trace or {}).get("query"))])),
        }
        c = conversations_table
        with self._write_lock, self.engine.begin() as conn:
            # write first, read second: the UPDATE takes SQLite's write lock before any read happens
            updated = conn.execute(
                c.update().where(c.c.id == conversation_id)
                .values(turn_count=c.c.turn_count + 1, last_turn_at=completed_at)
            ).rowcount
            if not updated:
                conn.execute(c.insert().values(id=conversation_id, started_at=started_at,
                                               last_turn_at=completed_at, turn_count=1))
            row["ordinal"] = conn.execute(sa.select(c.c.turn_count).where(c.c.id == conversation_id)).scalar_one()
            turn_id = conn.execute(turns_table.insert().values(**row)).inserted_primary_key[0]
        return int(turn_id)

    def set_feedback(
        self,
        turn_id: int,
        rating: str | None,
        comment: str | None = None,
        *,
        conversation_id: str | None = None,
        keep_comment: bool = False,
    ) -> bool:
        """Thumbs up/down (None clears it) with an optional short comment.

        With `conversation_id`, only a turn of that conversation is changed (a patient rates only their own
        turns). With `keep_comment`, an existing comment stays when `comment` is None. Returns whether a
        turn was updated.
        """
        if rating not in (*FEEDBACK_RATINGS, None):
            raise ValueError(f"rating must be one of {FEEDBACK_RATINGS} or None, not {rating!r}")
        values: dict[str, Any] = {"feedback": rating, "feedback_at": self.clock()}
        if comment is not None:
            values["feedback_comment"] = storable(mask_contacts(comment.strip()[:MAX_COMMENT_CHARS])) or None
        elif not keep_comment:
            values["feedback_comment"] = None
        t = turns_table
        where = t.c.id == turn_id
        if conversation_id is not None:
            where = where & (t.c.conversation_id == conversation_id)
        with self._write_lock, self.engine.begin() as conn:
            return conn.execute(t.update().where(where).values(**values)).rowcount == 1

    # ------------------------------------------------------------------------------------------ staff

    def turns(
        self,
        *,
        limit: int | None = 100,
        offset: int = 0,
        newest_first: bool = True,
        **filters: Any,
    ) -> list[Turn]:
        """Turns matching every filter (see `_turn_filters`), newest first unless told otherwise."""
        t = turns_table
        q = sa.select(t).where(*_turn_filters(**filters))
        q = q.order_by(t.c.id.desc() if newest_first else t.c.id.asc()).offset(offset)
        if limit is not None:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
            verdicts = self._verdicts_for(conn, [r["id"] for r in rows])
        return [_turn(r, verdicts.get(r["id"], ())) for r in rows]

    def iter_turns(self, *, page_size: int = 500, **filters: Any) -> Iterator[Turn]:
        """Every turn matching the filters, oldest first, page by page (for exports: memory stays flat; new
        turns only ever append, so paging by offset in id order skips nothing)."""
        offset = 0
        while True:
            page = self.turns(limit=page_size, offset=offset, newest_first=False, **filters)
            yield from page
            if len(page) < page_size:
                return
            offset += page_size

    def turn_summaries(self, since: datetime, until: datetime) -> Iterator[TurnSummary]:
        """Turns sent in [since, until), oldest first, reduced to what the dashboard counts."""
        t, v = turns_table, verdicts_table
        latest = (sa.select(v.c.verdict).where(v.c.turn_id == t.c.id).order_by(v.c.id.desc()).limit(1)
                  .scalar_subquery().label("verdict"))
        q = (sa.select(t.c.created_at, t.c.kind, t.c.feedback, latest)
             .where(t.c.created_at >= since, t.c.created_at < until).order_by(t.c.id))
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        for created_at, kind, feedback, verdict in rows:
            yield TurnSummary(created_at, kind, feedback, verdict)

    def reasons(self) -> list[str]:
        """The reasons of every stored turn that has one (refusal reasons, bad-input reasons), sorted."""
        t = turns_table
        with self.engine.connect() as conn:
            found = conn.execute(sa.select(t.c.reason).where(t.c.reason.is_not(None)).distinct()).scalars().all()
        return sorted(found)

    def count_turns(self, **filters: Any) -> int:
        q = sa.select(sa.func.count()).select_from(turns_table).where(*_turn_filters(**filters))
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def turn(self, turn_id: int) -> Turn | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(turns_table).where(turns_table.c.id == turn_id)).mappings().first()
            if row is None:
                return None
            return _turn(row, self._verdicts_for(conn, [turn_id]).get(turn_id, ()))

    def conversation(self, conversation_id: str) -> list[Turn]:
        """All turns of one conversation, in order."""
        return self.turns(conversation_id=conversation_id, limit=None, newest_first=False)

    def conversations(self, *, since: datetime | None = None, limit: int | None = 100,
                      offset: int = 0) -> list[ConversationSummary]:
        c = conversations_table
        q = sa.select(c).order_by(c.c.last_turn_at.desc()).offset(offset)
        if since is not None:
            q = q.where(c.c.last_turn_at >= since)
        if limit is not None:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            return [ConversationSummary(**r) for r in conn.execute(q).mappings()]

    def add_verdict(self, turn_id: int, staff_user: str, verdict: str, note: str = "") -> int:
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, not {verdict!r}")
        if not staff_user.strip():
            raise ValueError("a verdict needs the staff user who gave it")
        with self._write_lock, self.engine.begin() as conn:
            if conn.execute(sa.select(turns_table.c.id).where(turns_table.c.id == turn_id)).first() is None:
                raise KeyError(f"no turn with id {turn_id}")
            result = conn.execute(verdicts_table.insert().values(
                turn_id=turn_id, staff_user=staff_user.strip(), created_at=self.clock(), verdict=verdict,
                note=storable((note or "").strip()[:MAX_NOTE_CHARS])))
            return int(result.inserted_primary_key[0])

    def verdicts(self, turn_id: int) -> list[Verdict]:
        with self.engine.connect() as conn:
            return list(self._verdicts_for(conn, [turn_id]).get(turn_id, ()))

    @staticmethod
    def _verdicts_for(conn: Connection, turn_ids: list[int]) -> dict[int, tuple[Verdict, ...]]:
        if not turn_ids:
            return {}
        v = verdicts_table
        found: dict[int, list[Verdict]] = {}
        for r in conn.execute(sa.select(v).where(v.c.turn_id.in_(turn_ids)).order_by(v.c.id)).mappings():
            found.setdefault(r["turn_id"], []).append(Verdict(**r))
        return {k: tuple(vs) for k, vs in found.items()}

    # ---------------------------------------------------------------------------------------- retention

    def prune(self, now: datetime | None = None) -> int:
        """Delete conversations whose last turn is older than `retention_days` (0 keeps everything).
        Returns the number of conversations deleted. Several workers sharing one PostgreSQL database: one
        prunes at a time; a worker that finds another one pruning skips this round (and deletes nothing)."""
        if self.retention_days <= 0:
            return 0
        cutoff = (now or self.clock()) - timedelta(days=self.retention_days)
        c, t, v = conversations_table, turns_table, verdicts_table
        old = sa.select(c.c.id).where(c.c.last_turn_at < cutoff)
        # explicit deletes, child tables first: works whether or not the database enforces foreign keys
        with self._write_lock, self.engine.begin() as conn:
            if not try_housekeeping_lock(conn):
                log.info("retention: another worker is pruning; skipped this round")
                return 0
            conn.execute(v.delete().where(v.c.turn_id.in_(sa.select(t.c.id).where(t.c.conversation_id.in_(old)))))
            conn.execute(t.delete().where(t.c.conversation_id.in_(old)))
            deleted = conn.execute(c.delete().where(c.c.last_turn_at < cutoff)).rowcount
        if deleted:
            log.info("retention: deleted %d conversation(s) older than %d days", deleted, self.retention_days)
        return deleted


def _turn_filters(
    *,
    conversation_id: str | None = None,
    kinds: Iterable[str] | None = None,
    reason: str | None = None,
    feedback: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    text: str | None = None,
    reviewed: bool | None = None,
    verdict: str | None = None,
) -> list[Any]:
    """WHERE clauses for the staff filters. `feedback` is "up", "down", "any" or "none"; `text` searches the
    message and the reply (case-insensitive substring); `since`/`until` bound the time the message was sent;
    `reviewed` is whether the turn has any verdict; `verdict` matches the turn's latest verdict."""
    t, v = turns_table, verdicts_table
    where: list[Any] = []
    if reviewed is not None:
        has_verdict = sa.exists().where(v.c.turn_id == t.c.id)
        where.append(has_verdict if reviewed else ~has_verdict)
    if verdict is not None:
        latest = sa.select(v.c.verdict).where(v.c.turn_id == t.c.id).order_by(v.c.id.desc()).limit(1)
        where.append(latest.scalar_subquery() == verdict)
    if conversation_id is not None:
        where.append(t.c.conversation_id == conversation_id)
    if kinds:
        where.append(t.c.kind.in_(list(kinds)))
    if reason is not None:
        where.append(t.c.reason == reason)
    if feedback == "any":
        where.append(t.c.feedback.is_not(None))
    elif feedback == "none":
        where.append(t.c.feedback.is_(None))
    elif feedback is not None:
        where.append(t.c.feedback == feedback)
    if since is not None:
        where.append(t.c.created_at >= since)
    if until is not None:
        where.append(t.c.created_at < until)
    if text:
        pattern = f"%{text.lower()}%"
        where.append(sa.func.lower(t.c.message).like(pattern) | sa.func.lower(t.c.reply_text).like(pattern))
    return where


def _turn(row: Mapping[str, Any], verdicts: Iterable[Verdict]) -> Turn:
    return Turn(
        id=row["id"], conversation_id=row["conversation_id"], ordinal=row["ordinal"],
        created_at=row["created_at"], completed_at=row["completed_at"], latency_ms=row["latency_ms"],
        message=row["message"], kind=row["kind"], reason=row["reason"], reply_text=row["reply_text"],
        quotes=list(row["quotes"] or []), trace=dict(row["trace"] or {}), feedback=row["feedback"],
        feedback_comment=row["feedback_comment"], feedback_at=row["feedback_at"], verdicts=tuple(verdicts),
    )
