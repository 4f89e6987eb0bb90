"""Medicine names from a maintained dictionary (drug-named-entity-recognition: DrugBank, MeSH and NHS names and
brands, shipped inside its wheel, offline), so that the guard recognises any medicine, not only the ones our
lexicon lists, and the spelling correction never turns one into a word of the documents."""

from __future__ import annotations

import bz2
import importlib.metadata
import importlib.util
import os
import pickle
import re
import shutil
import sqlite3
import tempfile
import threading
import weakref
from contextlib import closing
from pathlib import Path

from rapidfuzz import fuzz, process

_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
# a MeSH heading that names a class of medicines by what they do; an inverted heading ("Analgesics, Opioid") by
# the part before the comma
_CLASS_NAME = re.compile(r"(?:agents|inhibitors|antagonists|agonists|blockers|drugs|ants|ics|ives|aids)(?:,|$)", re.I)
# Patients' names for classes of medicines that the dictionary lacks, and the MeSH class each means (a name the
# dictionary has, such as "sleeping pills", keeps its own meaning). One or two words: `find` reads no longer names.
LAY_CLASSES = {
    "painkillers": "Analgesics", "painkiller": "Analgesics", "pain killers": "Analgesics", "pain killer": "Analgesics",
    "pain meds": "Analgesics", "pain medication": "Analgesics", "pain medications": "Analgesics",
    "blood thinners": "Anticoagulants", "blood thinner": "Anticoagulants",
    "water pills": "Diuretics", "water pill": "Diuretics", "water tablets": "Diuretics",
    "sleeping tablets": "Hypnotics and Sedatives", "sleeping pill": "Hypnotics and Sedatives",
    "beta blockers": "Adrenergic beta-Antagonists", "beta-blockers": "Adrenergic beta-Antagonists",
    "birth control": "Contraceptive Agents",
}
MISSPELT = 80  # the edit ratio (rapidfuzz's fuzz.ratio) from which a word is a near miss of a name
SCHEMA = 4  # of the cached table; a file of another schema is never opened (its name differs)


def _package_file() -> Path:
    spec = importlib.util.find_spec("drug_named_entity_recognition")  # located, not imported (see below)
    return Path(next(iter(spec.submodule_search_locations))) / "drug_ner_dictionary.pkl.bz2"


def _dictionary() -> dict:
    """The package's dictionary file: written forms (lower case) -> canonical names, canonical name -> data.

    Not `find_drugs` itself: importing the library builds a trigram index for fuzzy matching (which we never use)
    over its 107,360 names, measured at 2.6 s and ~340 MB of the server's memory on the first question; reading
    the dictionary file alone takes ~0.4 s. `find` below is the library's exact match (pairs of tokens first,
    then single tokens not already matched), ignoring case, as `find_drugs(tokens, is_ignore_case=True)` does it.
    """
    return pickle.loads(bz2.decompress(_package_file().read_bytes()))  # the package's own data, as trusted as its code


class DrugFinder:
    """Looks written forms up in a small SQLite table (`variants`: written form, lower case -> the generic names
    it stands for, tab-separated), built once from the package's dictionary file into `cache` and read there by
    every later start. Held in Python, the dictionary cost the server ~50 MB and its reading ~0.4 s at each start
    (the file also holds every medicine's chemistry); a lookup of a message's words is one indexed query."""

    def __init__(self, cache: Path | None = None) -> None:
        """`cache`: the folder for the table (the data dir's `cache/`); none: a temporary one (tests)."""
        folder = cache
        if folder is None:  # a private folder, removed with this finder
            folder = Path(tempfile.mkdtemp(prefix="verbatim-drugs-"))
            weakref.finalize(self, shutil.rmtree, folder, True)
        version = importlib.metadata.version("drug-named-entity-recognition")
        self.path = folder / f"drugs-{SCHEMA}-{version}-{_package_file().stat().st_size}.sqlite"
        if not self._readable():
            self._build(folder)
        self._local = threading.local()  # a connection per thread: sqlite3 connections are not shared

    def _readable(self) -> bool:
        try:
            with closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)) as conn:
                return all(conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None
                           for table in ("variants", "monographs", "classes"))
        except sqlite3.Error:
            return False  # absent or damaged: rebuilt, never trusted

    def _build(self, folder: Path) -> None:
        data = _dictionary()
        canonical = data["drug_canonical_to_data"]
        rows = [(written, "\t".join(str(canonical.get(c, {}).get("name") or c) for c in targets))
                for written, targets in data["drug_variant_to_canonical"].items()]
        # medicines with a patient leaflet (MedlinePlus drug information or the NHS medicines pages), not the
        # dictionary's classes and substances ("Antibodies", "Immunosuppressive Agents", "Water")
        monographs = [(str(d.get("name") or c),) for c, d in canonical.items() if d.get("medline_plus_id") or d.get("nhs_url")]
        # classes of medicines: MeSH headings with no DrugBank entry and no leaflet, named as MeSH names its
        # pharmacological actions ("Anti-Bacterial Agents" for "antibiotics", "Anticoagulants", "Diuretics"); the
        # package carries no MeSH tree, and its other MeSH-only headings are substances ("Antibodies", enzymes)
        classes = [(str(d.get("name") or c),) for c, d in canonical.items()
                   if d.get("mesh_id") and not (d.get("drugbank_id") or d.get("medline_plus_id") or d.get("nhs_url"))
                   and _CLASS_NAME.search(str(d.get("name") or c))]
        classes += [(name,) for name in set(LAY_CLASSES.values())]
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")  # built whole, then renamed: workers sharing a data
        os.close(fd)                                           # dir never open half a table
        with closing(sqlite3.connect(tmp)) as conn, conn:
            conn.execute("CREATE TABLE variants (written TEXT PRIMARY KEY, names TEXT NOT NULL) WITHOUT ROWID")
            conn.executemany("INSERT OR REPLACE INTO variants VALUES (?, ?)", rows)
            conn.executemany("INSERT OR IGNORE INTO variants VALUES (?, ?)", LAY_CLASSES.items())
            conn.execute("CREATE TABLE monographs (name TEXT PRIMARY KEY) WITHOUT ROWID")
            conn.executemany("INSERT OR IGNORE INTO monographs VALUES (?)", monographs)
            conn.execute("CREATE TABLE classes (name TEXT PRIMARY KEY) WITHOUT ROWID")
            conn.executemany("INSERT OR IGNORE INTO classes VALUES (?)", classes)
        os.replace(tmp, self.path)
        # Tables of other schemas or package versions are left in place: workers of the previous version may share
        # this data dir during an upgrade, and each of their threads opens the table by name when it first asks.

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        return conn

    def _lookup(self, forms: set[str]) -> dict[str, list[str]]:
        conn = self._conn()
        found: dict[str, list[str]] = {}
        forms_list = sorted(forms)
        for i in range(0, len(forms_list), 500):  # SQLite's limit on bound parameters
            part = forms_list[i:i + 500]
            for written, names in conn.execute(
                    f"SELECT written, names FROM variants WHERE written IN ({','.join('?' * len(part))})", part):
                found[written] = names.split("\t")
        return found

    def find(self, text: str) -> list[tuple[str, str]]:
        """(the words as written, the medicine's generic name) for each medicine the text names."""
        tokens = _TOKEN.findall(text)
        pairs = [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]
        known = self._lookup({t.lower() for t in tokens + pairs}) if tokens else {}
        out, taken = [], set()
        for i, pair in enumerate(pairs):
            if pair.lower() in known:
                out += [(pair, name) for name in known[pair.lower()]]
                taken.update((i, i + 1))
        for i, token in enumerate(tokens):
            if i not in taken:
                out += [(token, name) for name in known.get(token.lower(), ())]
        return out

    def _listed(self, found: list[tuple[str, str]], tables: tuple[str, ...]) -> set[str]:
        """The names of `found` that one of `tables` ("monographs", "classes") lists."""
        names = sorted({name for _, name in found})
        if not names:
            return set()
        marks = ",".join("?" * len(names))
        return {n for table in tables
                for (n,) in self._conn().execute(f"SELECT name FROM {table} WHERE name IN ({marks})", names)}

    def medicines(self, text: str, classes: bool = False) -> list[tuple[str, str]]:
        """`find`, only the medicines a patient takes: those with a patient leaflet (MedlinePlus or NHS); with
        `classes`, also the classes a patient names them by ("antibiotics", "antidepressants")."""
        found = self.find(text)
        kept = self._listed(found, ("monographs", "classes") if classes else ("monographs",))
        return [(written, name) for written, name in found if name in kept]

    def only_medicines(self, text: str) -> bool:
        """The text names something the dictionary holds, and each is a medicine with a patient leaflet or a class
        patients name them by: no herb or supplement ("St. John's Wort", "fish oil": no leaflet for them)."""
        found = self.find(text)
        return bool(found) and {name for _, name in found} <= self._listed(found, ("monographs", "classes"))

    def substances(self, text: str) -> list[tuple[str, str]]:
        """`find` without the classes of medicines: the medicines and other substances the text names by
        their own name ("Tegretol", "whey protein"), not "antidepressants"."""
        found = self.find(text)
        classes = self._listed(found, ("classes",))
        return [(written, name) for written, name in found if name not in classes]

    def words(self, text: str) -> set[str]:
        """Lower-case words of the text that are (part of) a medicine's name."""
        return name_words(self.find(text))


def misspelt(folded: str, names: list[str]) -> list[str]:
    """The names (folded) that words of six letters or more in the folded text are near misses of (edit ratio
    >= 80: "pyridostigmin", "carbamazapine"), in order: how the input guard and the passage selector read a
    medicine's misspelt name."""
    out: list[str] = []
    for word in re.findall(r"[a-z][a-z-]{5,}", folded):
        match = process.extractOne(word, names, scorer=fuzz.ratio, score_cutoff=MISSPELT)
        if match and match[0] not in out:
            out.append(match[0])
    return out


def name_words(found: list[tuple[str, str]]) -> set[str]:
    """The lower-case words of the names `DrugFinder.find` found."""
    return {w.lower() for written, _ in found for w in written.split()}
