"""The one composition function: settings in, a ready ChatBot out."""

from __future__ import annotations

from langchain_chroma import Chroma

import prompts

from ingest.embeddings import SentenceTransformerEmbeddings
from ingest.settings import Settings

from .chatbot import ChatBot
from .compose import PassageSelector, QuoteComposer
from .guard import InputGuard, OutputGuard
from .library import Library
from .query import QueryBuilder
from .retrieval import HybridRetriever


def default_topic(library: Library) -> str:
    """The library's subject (prompts/answering.yaml), needed only when other subjects share the library.

    When most documents are about the subject anyway, steering retrieval towards it only reorders good
    candidates (measured: -2 points grounded hit on the bundled corpus); with 600 MedQuAD documents mixed
    in, it is what keeps "What causes it?" on the library's subject (docs/benchmarks.md).
    """
    topic = (prompts.load("answering").get("library_topic") or "").strip()
    if not topic or not library.documents:
        return ""
    return topic if len(library.sources_about(topic)) / len(library.documents) < 0.5 else ""


def build(settings: Settings) -> ChatBot:
    embeddings = SentenceTransformerEmbeddings(settings.model_path, settings.embed_batch_size)
    library = Library(settings, embeddings)
    library.warm()
    guard = InputGuard(embed=embeddings.encode)
    topic = default_topic(library)
    vectorstore = Chroma(
        client=library.client,
        collection_name=settings.collection,
        embedding_function=embeddings,
        # True makes langchain-chroma open it with embedding_function=None (False would attach Chroma's
        # default, downloading embedding function); Library already checked that the collection exists.
        create_collection_if_not_exists=True,
    )
    return ChatBot(
        library=library,
        input_guard=guard,
        query_builder=QueryBuilder(
            {**{w: 1 for w in prompts.load("safety_policy")["guard"]["spelling_words"]}, **library.vocabulary},
            guard.is_elliptical,
            # whole words of the model's WordPiece vocabulary: real English words are never "corrected"
            dictionary=embeddings.dictionary,
            topic=topic,
        ),
        retriever=HybridRetriever(vectorstore=vectorstore, library=library),
        selector=PassageSelector(library, settings.max_quotes, focus=library.sources_about(topic) if topic else ()),
        composer=QuoteComposer(library),
        output_guard=OutputGuard(lambda pid: not library.eligible(pid)),
        settings=settings,
    )
