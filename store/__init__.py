"""Persistence beside the answer pipeline: the conversation log (every patient turn, feedback, staff
verdicts), the staff console's accounts, server-side sessions and login-failure counts, and retention
housekeeping.
The only package that speaks SQL (SQLAlchemy Core). Depends on `bot` for the `Reply` it stores; never on `web` or `staff`."""

from .conversation_log import (
    FEEDBACK_RATINGS,
    VERDICTS,
    ConversationLog,
    ConversationSummary,
    SchemaTooNewError,
    Turn,
    TurnSummary,
    Verdict,
    mask_contacts,
    new_conversation_id,
    utcnow,
)
from .login_failures import FailureRecord, LoginFailures
from .retention import RetentionTimer
from .staff_accounts import StaffAccount, StaffAccountRecords
from .staff_sessions import SessionStore, StaffSession

__all__ = [
    "ConversationLog", "ConversationSummary", "Turn", "TurnSummary", "Verdict", "VERDICTS", "FEEDBACK_RATINGS",
    "SchemaTooNewError", "mask_contacts", "new_conversation_id", "utcnow", "RetentionTimer", "SessionStore",
    "StaffSession", "StaffAccount", "StaffAccountRecords", "LoginFailures", "FailureRecord",
]
