"""The two encoders of the packaged model: int8 ONNX (served and ingested by default) and fp32 torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from ingest.embeddings import ONNX_MODEL, OnnxEmbeddings, SentenceTransformerEmbeddings, load_embeddings


@pytest.fixture(scope="module")
def both():
    return OnnxEmbeddings(), SentenceTransformerEmbeddings()


@pytest.fixture(scope="module")
def chunk_texts(corpus_index):
    from ingest.index import Catalogue

    return [c.text for c in Catalogue.from_settings(corpus_index.settings.index).chunks()]


def test_int8_vectors_stay_close_to_fp32_on_the_bundled_chunks(both, chunk_texts):
    int8, fp32 = both
    a, b = int8.encode(chunk_texts), fp32.encode(chunk_texts)
    assert a.shape == b.shape == (len(chunk_texts), 384) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a, axis=1), 1, atol=1e-5)
    cosine = (a * b).sum(axis=1)
    assert cosine.min() > 0.97 and cosine.mean() > 0.99
    # Each chunk is nearest to its own fp32 vector (rows are not swapped by length-sorted batching).
    assert (np.argmax(a @ b.T, axis=1) == np.arange(len(chunk_texts))).all()


def test_batching_and_order_do_not_change_a_vector(both):
    int8, _ = both
    texts = ["short", "a much longer sentence about the nervous system and the immune system", "", "mid length one"]
    together = int8.encode(texts)
    alone = np.stack([int8.encode([t])[0] for t in texts])
    assert np.array_equal(together, alone)  # a text's vector never depends on what it is encoded with
    assert int8.encode([]).shape == (0, 384)


def test_both_encoders_count_tokens_and_know_words_alike(both, chunk_texts):
    int8, fp32 = both
    assert int8.max_tokens == fp32.max_tokens == 256
    assert int8.count_tokens(chunk_texts) == fp32.count_tokens(chunk_texts)
    assert int8.dictionary == fp32.dictionary and "syndrome" in int8.dictionary
    assert int8.model_id == fp32.model_id  # one model, two implementations: an index built by one is read by the other
    assert (int8.encoder, fp32.encoder) == ("onnx-int8", "torch-fp32")


def test_the_setting_picks_the_encoder(vt, tmp_path):
    assert isinstance(load_embeddings(vt.make_settings(tmp_path, tmp_path).index), OnnxEmbeddings)
    torch_settings = vt.make_settings(tmp_path, tmp_path, encoder="torch")
    assert isinstance(load_embeddings(torch_settings.index), SentenceTransformerEmbeddings)
    assert ONNX_MODEL.stat().st_size < 30_000_000


def test_serving_with_the_onnx_encoder_never_imports_torch(corpus_index, vt, tmp_path):
    """The start-up cost the int8 encoder removes: `from bot import ChatBot` to an answer, torch never loaded
    (nor the drug library's fuzzy index, bot/drugs.py)."""
    code = ("import sys; from bot import ChatBot; bot = ChatBot.from_settings(); "
            "r = bot.ask('What is paraneoplastic syndrome?'); "
            "print(r.kind, 'torch' in sys.modules, 'sentence_transformers' in sys.modules, "
            "'drug_named_entity_recognition.drugs_finder' in sys.modules)")
    env = vt.subprocess_env(corpus_index.settings.data_dir, corpus_index.corpus_dir)
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=vt.REPO_ROOT, capture_output=True, text=True,
                         check=True, timeout=300).stdout.split()
    assert out[-4:] == ["answer", "False", "False", "False"]


def test_the_onnx_encoder_truncates_long_texts_as_the_tokenizer_itself_does(both):
    """`OnnxEmbeddings` keeps one non-truncating tokenizer (token counts need the full length) and cuts the ids
    itself: the same ids as the tokenizer's own truncation, for texts below, at and above the limit."""
    from tokenizers import Tokenizer

    onnx, _ = both
    reference = Tokenizer.from_file(f"{onnx.model_path}/tokenizer.json")
    reference.enable_truncation(onnx.max_tokens)
    reference.no_padding()
    words = "the immune system attacks nerve cells far from the tumour".split()
    for n in (3, onnx.max_tokens - 2, onnx.max_tokens - 1, onnx.max_tokens, onnx.max_tokens + 1, 3 * onnx.max_tokens):
        text = " ".join(words[i % len(words)] for i in range(n))
        full = onnx._tokenizer.encode(text)
        cut = reference.encode(text)
        assert onnx._truncated(full.ids) == cut.ids
        assert onnx._truncated(full.attention_mask) == cut.attention_mask
        assert onnx._truncated(full.type_ids) == cut.type_ids
    assert onnx.count_tokens([text])[0] > onnx.max_tokens  # counting still sees the whole text
