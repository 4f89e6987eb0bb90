"""The settings in sections: every `VERBATIM_*` variable keeps its name and lands in its section with its type;
README's table says the same; building settings in code stays short and refuses the flat keywords of old."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from ingest.settings import (
    DEFAULT_DATA_DIR,
    SECTIONS,
    SHARED,
    BotSettings,
    DataDirSection,
    IndexSettings,
    LogSettings,
    Settings,
    StaffSettings,
)

README = Path(__file__).resolve().parents[2] / "README.md"

# variable: (section, field, value in the environment, value in the settings); section None = top level
VARIABLES = {
    "VERBATIM_DATA_DIR": (None, "data_dir", "/srv/verbatim/data", Path("/srv/verbatim/data")),
    "VERBATIM_CORPUS_DIR": ("index", "corpus_dir", "/srv/verbatim/corpus", Path("/srv/verbatim/corpus")),
    "VERBATIM_EMBEDDING_MODEL": ("index", "embedding_model", "/models/minilm", "/models/minilm"),
    "VERBATIM_CHROMA_URL": ("index", "chroma_url", "http://10.0.0.5:8000", "http://10.0.0.5:8000"),
    "VERBATIM_COLLECTION": ("index", "collection", "leaflets", "leaflets"),
    "VERBATIM_EMBED_BATCH_SIZE": ("index", "embed_batch_size", "16", 16),
    "VERBATIM_ENCODER": ("index", "encoder", "torch", "torch"),
    "VERBATIM_MAX_MESSAGE_CHARS": ("bot", "max_message_chars", "500", 500),
    "VERBATIM_MAX_QUOTES": ("bot", "max_quotes", "2", 2),
    "VERBATIM_DATABASE_URL": (None, "database_url", "postgresql+psycopg://u:p@db:5432/v",
                              "postgresql+psycopg://u:p@db:5432/v"),
    "VERBATIM_RETENTION_DAYS": ("log", "retention_days", "30", 30),
    "VERBATIM_STAFF_USERS_FILE": ("staff", "staff_users_file", "/etc/verbatim/users.json",
                                  Path("/etc/verbatim/users.json")),
    "VERBATIM_STAFF_SECRET": ("staff", "staff_secret", "s3cret", SecretStr("s3cret")),
    "VERBATIM_STAFF_SESSION_SECONDS": ("staff", "staff_session_seconds", "3600", 3600),
    "VERBATIM_STAFF_IDLE_SECONDS": ("staff", "staff_idle_seconds", "600", 600),
    "VERBATIM_STAFF_LOGIN_MAX_FAILURES": ("staff", "staff_login_max_failures", "3", 3),
    "VERBATIM_STAFF_LOGIN_LOCKOUT_SECONDS": ("staff", "staff_login_lockout_seconds", "120", 120),
}


@pytest.fixture
def env(monkeypatch):
    """A process environment with no VERBATIM_* variable but the ones a test sets."""
    for key in [k for k in os.environ if k.startswith("VERBATIM_")]:
        monkeypatch.delenv(key)
    return monkeypatch


def _same(actual, expected) -> bool:
    if isinstance(expected, SecretStr):
        return isinstance(actual, SecretStr) and actual.get_secret_value() == expected.get_secret_value()
    return type(actual) is type(expected) and actual == expected


@pytest.mark.parametrize("variable", VARIABLES)
def test_each_variable_lands_in_its_section_with_its_type(env, variable):
    section, field, raw, expected = VARIABLES[variable]
    env.setenv(variable, raw)
    settings = Settings()
    owner = settings if section is None else getattr(settings, section)
    assert _same(getattr(owner, field), expected), (variable, getattr(owner, field))
    for other in set(SECTIONS) - {section}:  # nowhere else, unless it is shared (data dir, database)
        if field in SHARED:
            assert getattr(getattr(settings, other), field, expected) == expected
        else:
            assert field not in type(getattr(settings, other)).model_fields


def test_every_field_has_its_variable():
    """A new field is a new variable: it must be in the list above (and so in README's table)."""
    fields = {(None, f) for f in SHARED} | {(name, f) for name, cls in SECTIONS.items() for f in cls.model_fields
                                           if f not in SHARED}
    assert fields == {(section, field) for section, field, _, _ in VARIABLES.values()}


def test_all_variables_together_and_what_follows_from_them(env):
    for variable, (_, _, raw, _) in VARIABLES.items():
        env.setenv(variable, raw)
    settings = Settings()
    data = Path("/srv/verbatim/data")
    assert settings.data_dir == settings.index.data_dir == settings.log.data_dir == settings.staff.data_dir == data
    assert settings.index.index_db == data / "index.sqlite" and settings.index.chroma_dir == data / "chroma"
    assert settings.index.model_path == "/models/minilm"
    # one database for the catalogue and the log (several workers, several hosts)
    assert settings.log.log_database_url == settings.index.catalogue_url == "postgresql+psycopg://u:p@db:5432/v"
    assert settings.staff.staff_users_path == Path("/etc/verbatim/users.json")
    # a section built alone reads the same variables
    assert IndexSettings() == settings.index and BotSettings() == settings.bot
    assert LogSettings() == settings.log and StaffSettings() == settings.staff


def test_defaults_derive_from_the_data_dir(env):
    settings = Settings()
    assert settings.data_dir == DEFAULT_DATA_DIR
    assert all(getattr(settings, n).data_dir == DEFAULT_DATA_DIR
               for n, cls in SECTIONS.items() if issubclass(cls, DataDirSection))
    assert settings.log.log_database_url == f"sqlite:///{DEFAULT_DATA_DIR / 'conversations.sqlite'}"
    assert settings.index.catalogue_url == f"sqlite:///{DEFAULT_DATA_DIR / 'index.sqlite'}"
    assert settings.staff.staff_users_path == DEFAULT_DATA_DIR / "staff_users.json"
    assert settings.staff.staff_secret.get_secret_value() == ""
    assert (settings.bot.max_message_chars, settings.bot.max_quotes, settings.log.retention_days) == (2000, 3, 0)


class TestConstruction:
    def test_data_dir_given_in_code_is_every_sections(self, env, tmp_path):
        env.setenv("VERBATIM_DATA_DIR", "/elsewhere")
        settings = Settings(data_dir=tmp_path, log={"retention_days": 7})
        assert {settings.index.data_dir, settings.log.data_dir, settings.staff.data_dir} == {tmp_path}
        assert settings.log.retention_days == 7
        assert settings.log.log_database_url == f"sqlite:///{tmp_path / 'conversations.sqlite'}"

    def test_a_section_given_as_a_dict_reads_the_rest_from_the_environment(self, env, tmp_path):
        env.setenv("VERBATIM_COLLECTION", "leaflets")
        settings = Settings(index={"corpus_dir": tmp_path})
        assert settings.index.corpus_dir == tmp_path and settings.index.collection == "leaflets"

    def test_two_data_dirs_are_refused(self, env, tmp_path):
        with pytest.raises(ValidationError, match="differs from data_dir"):
            Settings(data_dir=tmp_path, index=IndexSettings(data_dir=tmp_path / "other"))

    def test_database_url_given_in_code_is_the_catalogues_and_the_logs(self, env, tmp_path):
        env.setenv("VERBATIM_DATABASE_URL", "postgresql+psycopg://u@elsewhere/v")
        url = "postgresql+psycopg://u@db/verbatim"
        settings = Settings(data_dir=tmp_path, database_url=url, index={"corpus_dir": tmp_path})
        assert settings.index.catalogue_url == settings.log.log_database_url == url
        assert Settings(data_dir=tmp_path, database_url="").index.catalogue_url == f"sqlite:///{tmp_path / 'index.sqlite'}"
        with pytest.raises(ValidationError, match="differs from database_url"):
            Settings(database_url=url, log=LogSettings(database_url="sqlite:///other.sqlite"))

    @pytest.mark.parametrize("wrong", [{"corpus_dir": "/c"}, {"max_quotes": 2}, {"index": {"max_quotes": 2}}])
    def test_a_keyword_in_the_wrong_place_is_an_error_not_ignored(self, env, wrong):
        with pytest.raises(ValidationError):
            Settings(**wrong)

    def test_an_invalid_value_names_its_variable_field(self, env):
        env.setenv("VERBATIM_MAX_QUOTES", "9")
        with pytest.raises(ValidationError, match="max_quotes"):
            Settings()

    def test_section_names_are_not_variables(self, env):
        """`VERBATIM_LOG=debug` and the like are not read as JSON sections (only fields are variables)."""
        for name in SECTIONS:
            env.setenv(f"VERBATIM_{name.upper()}", "debug")
        env.setenv("VERBATIM_SOMETHING_ELSE", "x")
        assert Settings().bot == BotSettings()


def test_readme_table_lists_every_variable_in_its_section():
    text = README.read_text(encoding="utf-8")
    table = text[text.index("## Settings"):]
    table = table[:table.index("\n## ", 1)]
    rows = {m[1]: m[2] for m in re.finditer(r"^\| `(VERBATIM_\w+)` \| ([^|]+?) \|", table, re.M)}
    expected = {v: "top level" if s is None else f"`{s}`" for v, (s, _, _, _) in VARIABLES.items()}
    assert rows == expected
