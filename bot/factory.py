"""The one composition function: settings in, the answer pipeline's stages out (`ChatBot` runs them)."""

from __future__ import annotations

from langchain_chroma import Chroma

import prompts

from ingest.embeddings import VectorCache, load_embeddings
from ingest.settings import Settings

from .answerability import AnswerabilityModel
from .care import CareWords
from .coverage import CoverageModel
from .checks import MessageChecks
from .compose import PassageSelector, QuoteComposer
from .disorders import DisorderFinder
from .drugs import DrugFinder
from .english import English
from .focus import SubjectFocus
from .guard import ALLOW, InputGuard, OutputGuard
from .intent import IntentModel
from .library import Library
from .query import QueryBuilder
from .replies import Replies
from .retrieval import HybridRetriever
from .synonyms import SynonymGroups
from .stages import (
    ComposeStage,
    InputGuardStage,
    OutputGuardStage,
    Pipeline,
    QueryStage,
    RetrievalStage,
    SelectionStage,
    VerifyStage,
)


def build_pipeline(settings: Settings, reuse: Pipeline | None = None) -> Pipeline:
    """`reuse`: the pipeline of a bot on an earlier index version, whose models (encoder, guard, learned
    components; none of them depends on the index) the new one shares, so only the index is loaded again."""
    if reuse is None:
        embeddings = load_embeddings(settings.index)
        drugs = DrugFinder(cache=settings.data_dir / "cache")
        english = English(extra=embeddings.dictionary)
        guard = InputGuard(embed=embeddings.encode, intent=IntentModel.load(), drugs=drugs, english=english)
        answerability, disorders, coverage = AnswerabilityModel.load(), DisorderFinder.load(), CoverageModel.load()
        care, synonyms = CareWords.load(), SynonymGroups.load()
    else:
        embeddings, guard = reuse.library.embeddings, reuse.input_guard.guard
        selector = reuse.selection.selector
        drugs, answerability, disorders, coverage = guard.drug_finder, selector.model, selector.disorders, selector.coverage
        care, english, synonyms = selector.care, selector.english, selector.synonyms
    # vectors of the library's passages, kept across restarts (never a patient's words)
    model = VectorCache.key(embeddings.model_id)[:10]
    fixed = VectorCache(embeddings.encode, settings.data_dir / "cache" / f"vectors-{embeddings.encoder}-{model}.npz")
    library = Library(settings.index, embeddings)
    library.warm(encode=fixed)
    vectorstore = Chroma(
        client=library.client,
        collection_name=library.collection.name,
        embedding_function=embeddings,
        # True makes langchain-chroma open it with embedding_function=None (False would attach Chroma's
        # default, downloading embedding function); Library already checked that the collection exists.
        create_collection_if_not_exists=True,
    )
    replies = Replies()
    focus = SubjectFocus(library)  # the one subject focus: retrieval and selection both follow its decision
    composer = QuoteComposer(library)
    builder = QueryBuilder(
        {**{w: 1 for w in prompts.load("safety_policy")["guard"]["spelling_words"]}, **library.vocabulary},
        guard.is_elliptical,
        dictionary=english,  # real English words are never "corrected"
        is_name=lambda text: drugs.words(text) | disorders.words_in(text),
        may_carry=lambda text, reply: guard.lexicon(text).action == ALLOW and guard.replied(reply) is None,
        names=lambda text: [written for written, _ in drugs.find(text)] + disorders.find(text),
        subject_words=library.subject_words,
    )
    selector = PassageSelector(library, focus, settings.bot.max_quotes, model=answerability, disorders=disorders,
                               medicines=drugs, coverage=coverage, care=care, english=english,
                               synonyms=synonyms, embed=embeddings.encode)
    return Pipeline(
        settings=settings,
        library=library,
        replies=replies,
        checks=MessageChecks(settings.bot.max_message_chars, replies),
        query=QueryStage(builder, embeddings),
        input_guard=InputGuardStage(guard, selector.documented_subject, selector.undocumented_subject,
                                    selector.names_medicine),
        focus=focus,
        retrieval=RetrievalStage(HybridRetriever(vectorstore=vectorstore, library=library)),
        selection=SelectionStage(selector, guard.mentions_health, library.technical_words),
        compose=ComposeStage(composer, library),
        verify=VerifyStage(library, composer),
        output_guard=OutputGuardStage(OutputGuard(lambda pid: not library.eligible(pid))),
    )
