"""`Ingestor`: files → documents → passages (tagged) → chunks → index, incrementally and atomically."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from . import index as ix
from .chunking import CHUNKER_VERSION, Chunk, Chunker
from .documents import Document, SkipFile, load_document, read_manifest
from .embeddings import Encoder, load_embeddings
from .safety import SafetyTagger
from .settings import IndexSettings
from .structure import Passage, StructureParser

log = logging.getLogger("verbatim.ingest")


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    documents: int = 0
    passages: int = 0
    chunks: int = 0
    embedded: int = 0  # chunks that had to be embedded in this run
    tagged: dict[str, int] = field(default_factory=dict)
    tagged_passages: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    embed_seconds: float = 0.0

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


def discover(paths: list[Path], root: Path) -> list[tuple[Path, str]]:
    """Files to ingest with their source ids (paths relative to the corpus root, else file names)."""
    found: list[tuple[Path, str]] = []
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        base = path if path.is_dir() else path.parent
        for f in files:
            if f.name == "manifest.yaml" or f.name.startswith("."):
                continue
            try:
                source = f.resolve().relative_to(root.resolve()).as_posix()
            except ValueError:
                source = f.relative_to(base).as_posix()
            found.append((f, source))
    return found


class Ingestor:
    """Builds and updates the index. Configuration in `__init__`, data in `run`."""

    def __init__(self, settings: IndexSettings, embeddings: Encoder | None = None) -> None:
        self.settings = settings
        self.embeddings = embeddings or load_embeddings(settings)
        self.parser = StructureParser()
        self.tagger = SafetyTagger()
        self.chunker = Chunker(self.embeddings.count_tokens, self.embeddings.max_tokens, self.embeddings.model_id)
        # the index remembers which rules built it: changed rules re-process every document
        self.pipeline_version = f"{CHUNKER_VERSION}.{self.parser.version}.{_policy_version()}"

    def process(self, doc: Document) -> tuple[list[Passage], list[Chunk]]:
        passages = self.tagger.tag(self.parser.parse(doc))
        return passages, self.chunker.chunk(doc, passages)

    def run(
        self,
        paths: list[Path] | None = None,
        rebuild: bool = False,
        progress: bool = True,
        after_embed: Callable[[], None] | None = None,
    ) -> IngestReport:
        for p in paths or [self.settings.corpus_dir]:
            if not p.exists():
                raise FileNotFoundError(f"{p} does not exist")
        with ix.Catalogue.from_settings(self.settings) as catalogue:  # closed after: it may be a database server's
            return self._run(catalogue, paths, rebuild, progress, after_embed)

    def _run(self, catalogue: ix.Catalogue, paths: list[Path] | None, rebuild: bool, progress: bool,
             after_embed: Callable[[], None] | None) -> IngestReport:
        started = time.perf_counter()
        s = self.settings
        report = IngestReport()
        roots = paths or [s.corpus_dir]
        meta = catalogue.meta()
        if not rebuild:
            ix.check_model(meta.get("embedding_model"), self.embeddings.model_id)
        active = ix.active_collection(s, meta)
        target = self._new_collection(catalogue, meta) if rebuild else active
        collection, client = ix.open_collection(s, self.embeddings.model_id, create=True, name=target)
        stored = catalogue.documents()
        # A rebuild re-processes everything into the new collection; its flip replaces every stored row.
        known = {} if rebuild else stored
        same_rules = meta.get("pipeline_version") == self.pipeline_version and not rebuild

        manifests: dict[Path, dict] = {}
        seen: set[str] = set()
        replace: dict[str, tuple[ix.StoredDocument, list[Passage], list[Chunk]]] = {}
        for path, source in discover(roots, s.corpus_dir):
            folder = path.parent
            try:
                if folder not in manifests:
                    manifests[folder] = read_manifest(folder)
                doc = load_document(path, source, manifests[folder])
            except SkipFile as exc:
                report.skipped.append((source, str(exc)))
                log.warning("skipped %s: %s", source, exc)
                continue
            except OSError as exc:
                report.skipped.append((source, f"cannot be read ({exc.strerror or exc})"))
                log.warning("skipped %s: %s", source, exc)
                continue
            seen.add(source)
            old = known.get(source)
            if old and old.content_hash == doc.content_hash and same_rules:
                report.unchanged.append(source)
                continue
            passages, chunks = self.process(doc)
            (report.updated if old else report.added).append(source)
            replace[source] = (ix.StoredDocument(source, doc.content_hash, doc.title, doc.metadata, doc.text), passages, chunks)

        # Only a full corpus run removes documents that disappeared; `python -m ingest some/file.md` adds.
        removed = sorted(set(stored) - seen) if paths is None or rebuild else []
        report.removed = removed
        if rebuild:  # what stays under the same name is an update, not an addition
            report.updated = [src for src in report.added if src in stored]
            report.added = [src for src in report.added if src not in stored]

        unchanged_chunks = catalogue.chunks(report.unchanged) if report.unchanged else []
        new_chunks = [c for _, _, chunks in replace.values() for c in chunks]
        all_chunks = unchanged_chunks + new_chunks
        if paths is not None and not rebuild:  # partial run: keep every other stored document
            keep = set(stored) - set(replace) - set(report.unchanged)
            all_chunks += catalogue.chunks(keep) if keep else []

        t0 = time.perf_counter()
        report.embedded = self._embed_missing(collection, new_chunks, progress)
        report.embed_seconds = time.perf_counter() - t0
        if after_embed:
            after_embed()  # test hook: a crash here must leave the previous index usable

        catalogue.flip(
            replace,
            sorted(set(removed) | (set(stored) - set(replace) if rebuild else set())),
            {
                "schema_version": ix.SCHEMA_VERSION,
                "embedding_model": self.embeddings.model_id,
                "encoder": self.embeddings.encoder,  # which implementation embedded the newest chunks
                "pipeline_version": self.pipeline_version,
                "collection": target,
                "building": "",
            },
        )
        # After the flip: drop vectors nothing refers to.
        listed = {c.id for c in all_chunks}
        stale = [i for i in collection.get(include=[])["ids"] if i not in listed]
        step = _max_batch(collection)
        for i in range(0, len(stale), step):
            collection.delete(ids=stale[i : i + step])
        if rebuild:  # keep the version just replaced (servers still on it); drop anything older
            for name in ix.version_collections(client, s.collection):
                if name not in (target, active):
                    client.delete_collection(name)

        passages = catalogue.passages()
        report.documents = len(catalogue.documents())
        report.passages = len(passages)
        report.chunks = len(all_chunks)
        for p in passages:
            for tag in sorted(p.tags):
                report.tagged[tag] = report.tagged.get(tag, 0) + 1
            if p.tags:
                report.tagged_passages.append(
                    {"source": p.source, "section": " › ".join(p.section), "tags": sorted(p.tags), "text": p.text}
                )
        report.seconds = time.perf_counter() - started
        return report

    def _embed_missing(self, collection, chunks: list[Chunk], progress: bool) -> int:
        if not chunks:
            return 0
        ids = [c.id for c in chunks]
        existing: set[str] = set()
        step = _max_batch(collection)
        for i in range(0, len(ids), step):
            existing.update(collection.get(ids=ids[i : i + step], include=[])["ids"])
        # Longest first, as SentenceTransformer.encode itself orders a call: batches of similar length pad
        # less, which is most of the gap between the pipeline and one big raw encode call.
        todo = sorted((c for c in chunks if c.id not in existing), key=lambda c: -len(c.text))
        batch = min(step, self.settings.embed_batch_size * 32)
        with tqdm(total=len(todo), desc="embedding", unit="chunk", disable=not progress or not todo) as bar:
            for i in range(0, len(todo), batch):
                part = todo[i : i + batch]
                vectors = self.embeddings.encode([c.text for c in part])
                collection.upsert(
                    ids=[c.id for c in part],
                    embeddings=vectors,
                    documents=[c.text for c in part],
                    metadatas=[
                        {"source": c.source, "blocked": c.blocked, "tags": ",".join(sorted(c.tags)) or "none",
                         "section": " › ".join(c.section)}
                        for c in part
                    ],
                )
                bar.update(len(part))
        return len(todo)

    def _new_collection(self, catalogue: ix.Catalogue, meta: dict[str, str]) -> str:
        """The collection a rebuild writes: the one a killed rebuild left (its vectors are reused), else a new
        name. Recorded before anything is written, so the next rebuild finds it."""
        name = meta.get("building")
        if name:
            try:
                ix.open_collection(self.settings, self.embeddings.model_id, create=True, name=name)
            except ix.ModelMismatchError:  # the killed rebuild used another model: start over
                ix.chroma_client(self.settings).delete_collection(name)
                name = None
        if not name or name == ix.active_collection(self.settings, meta):
            name = f"{self.settings.collection}-{uuid.uuid4().hex[:12]}"
        catalogue.set_meta({"building": name})
        return name


def _max_batch(collection) -> int:
    try:
        return max(1, min(5000, int(collection._client.get_max_batch_size())))
    except Exception:
        return 1000


def _policy_version() -> str:
    import hashlib
    import json as _json

    import prompts

    return hashlib.sha256(_json.dumps(prompts.load("safety_policy"), sort_keys=True).encode()).hexdigest()[:8]

