"""The one composition function: settings in, a ready ChatBot out."""

from __future__ import annotations

from langchain_chroma import Chroma

import prompts

from ingest.embeddings import load_embeddings
from ingest.settings import Settings

from .chatbot import ChatBot
from .answerability import AnswerabilityModel
from .compose import PassageSelector, QuoteComposer
from .disorders import DisorderFinder
from .drugs import DrugFinder
from .guard import ALLOW, InputGuard, OutputGuard
from .intent import IntentModel
from .library import Library
from .query import QueryBuilder
from .retrieval import HybridRetriever


def subject_documents(library: Library) -> list[str]:
    """The documents about the library's subject (`library_topic`, prompts/answering.yaml), when other
    subjects share the library; none when most documents are about it anyway (the bundled corpus).

    With 5,483 MedQuAD pages mixed in, they are what keeps "What causes it?" on the library's subject
    (docs/benchmarks.md); the bot searches them on their own too, answers questions about the subject from
    them alone, and gives their passages a head start in the others (`PassageSelector`).
    """
    topic = (prompts.load("answering").get("library_topic") or "").strip()
    about = library.sources_about(topic) if topic else []
    return about if library.documents and len(about) / len(library.documents) < 0.5 else []


def build(settings: Settings, reuse: ChatBot | None = None) -> ChatBot:
    """`reuse`: a bot on an earlier index version, whose models (encoder, guard, learned components; none of
    them depends on the index) the new one shares, so only the index is loaded again."""
    if reuse is None:
        embeddings = load_embeddings(settings)
        drugs = DrugFinder()
        guard = InputGuard(embed=embeddings.encode, intent=IntentModel.load(), drugs=drugs)
        answerability, disorders = AnswerabilityModel.load(), DisorderFinder.load()
    else:
        embeddings, guard = reuse.library.embeddings, reuse.input_guard
        drugs, answerability, disorders = guard.drug_finder, reuse.selector.model, reuse.selector.disorders
    library = Library(settings, embeddings)
    library.warm()
    vectorstore = Chroma(
        client=library.client,
        collection_name=library.collection.name,
        embedding_function=embeddings,
        # True makes langchain-chroma open it with embedding_function=None (False would attach Chroma's
        # default, downloading embedding function); Library already checked that the collection exists.
        create_collection_if_not_exists=True,
    )
    focus = subject_documents(library)
    library.chunk_matrix(tuple(sorted(focus)))  # read once at start, for the focus search
    return ChatBot(
        library=library,
        input_guard=guard,
        query_builder=QueryBuilder(
            {**{w: 1 for w in prompts.load("safety_policy")["guard"]["spelling_words"]}, **library.vocabulary},
            guard.is_elliptical,
            # whole words of the model's WordPiece vocabulary: real English words are never "corrected"
            dictionary=embeddings.dictionary,
            is_name=drugs.words,
            may_carry=lambda text: guard.lexicon(text).action == ALLOW,
            names=lambda text: [written for written, _ in drugs.find(text)] + disorders.find(text),
        ),
        retriever=HybridRetriever(vectorstore=vectorstore, library=library),
        selector=PassageSelector(library, settings.max_quotes, focus=focus, model=answerability,
                                  disorders=disorders),
        composer=QuoteComposer(library),
        output_guard=OutputGuard(lambda pid: not library.eligible(pid)),
        settings=settings,
    )
