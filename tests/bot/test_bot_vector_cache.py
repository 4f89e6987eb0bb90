"""Vectors of fixed texts (the library's passages) are kept in the data dir's cache across restarts; a patient's
words never are."""

from __future__ import annotations

import numpy as np

from ingest.embeddings import VectorCache


def _cache_file(settings):
    files = sorted((settings.data_dir / "cache").glob("vectors-*.npz"))
    assert len(files) == 1, files
    return files[0]


def test_the_cache_holds_passages_only_and_a_restart_reads_it(second_index):
    from bot import ChatBot

    settings = second_index.settings
    bot = ChatBot.from_settings(settings)
    path = _cache_file(settings)
    library = bot.pipeline.library
    passages = {VectorCache.key(library.context_text(library.passages[pid])) for pid in library._warm_ids}
    with np.load(path) as data:
        keys = set(data["keys"].tolist())
    assert passages and keys == passages

    message = "My husband's name is Tobias Quendelmarsh and he has LEMS: what is it?"
    reply = bot.ask(message, [])
    assert reply.kind in ("answer", "no_answer")
    made = path.stat().st_mtime_ns
    again = ChatBot.from_settings(settings)  # a restart: every fixed text is in the cache, nothing is written
    assert path.stat().st_mtime_ns == made
    with np.load(path) as data:
        assert VectorCache.key(message) not in set(data["keys"].tolist())
    assert np.allclose(again.pipeline.library._warm_matrix, library._warm_matrix)


def test_a_damaged_cache_is_encoded_again(tmp_path):
    path = tmp_path / "v.npz"
    path.write_bytes(b"not an npz file")
    calls = []

    def encode(texts):
        calls.append(list(texts))
        return np.ones((len(texts), 384), np.float32)

    out = VectorCache(encode, path)(["a", "b"])
    assert out.shape == (2, 384) and calls == [["a", "b"]]
    assert VectorCache(encode, path)(["b"]).shape == (1, 384) and len(calls) == 1  # rewritten whole, then read
