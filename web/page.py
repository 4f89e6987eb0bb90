"""The patient page (Gradio Blocks): its layout, its event handlers and each patient's state.

What a reply looks like is decided in `web.ui` (pure functions, wording from `prompts/web.yaml`); this module
only wires events, per-patient state, the bot and the log together. One patient message goes one way:
`PatientChat.accept` → `bot.stream` → the page (`ui.reply_message`) → `ConversationLog.record_turn`.
The server that hosts the page is `web.server.create_app`.
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterator, Protocol, Sequence

import gradio as gr

from bot.replies import Replies
from bot.types import Reply
from store import ConversationLog, new_conversation_id, utcnow

from . import ui

log = logging.getLogger("verbatim.web")

# ---- Gradio queue and concurrency: chosen on purpose (measurements: docs/benchmarks.md) ---------------
# Answering is CPU-bound (embedding the question, scoring passages: ~50–150 ms of CPU alone) and the host has
# 2 cores. The limit decides how a patient's wait splits between queueing and sharing the CPU with other
# answers: with 1, everyone waits behind any single slow answer; with 8, each answer takes several times longer
# to compute, with more threads and memory in flight, and throughput does not improve. CHAT_CONCURRENCY = 4
# (two answers per core) keeps both cores busy while other replies stream out or wait on the log's fsync.
# All triggers that answer a question (Enter, Send, example buttons) share one concurrency_id, so the limit
# holds for the whole page, not per button. The queue is bounded (QUEUE_MAX_SIZE): beyond it a patient gets
# Gradio's "queue is full" notice at once instead of an unbounded wait.
# Cheap events (accepting a message, feedback, new conversation) skip the queue (queue=False): they never
# wait behind answers, so the page reacts at once even under load.
CHAT_CONCURRENCY = 4
QUEUE_MAX_SIZE = 256
# A reply that has not finished after this long (e.g. its queued job was dropped) stops blocking the next.
STALE_PENDING = timedelta(minutes=2)
# The same text again this soon after it was accepted is the second click of a double click, even when a fast
# answer already finished in between (seen on a loaded machine): it must not ask the question twice.
DOUBLE_SEND = timedelta(seconds=2)

CSS = """
#vb-page { max-width: 72rem; margin: 0 auto; }
#vb-disclaimer { border: 2px solid #1f4e79; background: #eef5fc; color: #0b2540; border-radius: .5rem;
  padding: .25rem 1rem; }
#vb-disclaimer * { color: #0b2540; }
.vb-emergency-banner { background: #b00020; color: #fff; font-size: 1.25rem; line-height: 1.4;
  padding: .75rem 1rem; border-radius: .5rem; border: 3px solid #5f0010; }
.vb-emergency-banner strong { color: #fff; }
.vb-reply { border-radius: .5rem; }
.vb-reply blockquote { border-left: 4px solid #1f4e79; margin: .5rem 0; padding: .25rem .75rem; }
.vb-refusal { border-left: 6px solid #a15c00; background: #fff4e5; color: #3d2400; padding: .5rem .75rem; }
.vb-no-answer, .vb-out-of-scope { border-left: 6px solid #4a55a2; background: #eef0fb; color: #1d2152;
  padding: .5rem .75rem; }
.vb-emergency { border: 3px solid #b00020; background: #fdecea; color: #5f0010; padding: .5rem .75rem;
  font-size: 1.1em; }
.vb-refusal *, .vb-no-answer *, .vb-out-of-scope *, .vb-emergency * { color: inherit; }
#vb-status:not(:empty) { font-weight: 600; }
#vb-status p { color: #8a3b00; }
.vb-examples button { white-space: normal; text-align: left; }
@media (max-width: 640px) {
  #vb-page h1 { font-size: 1.5rem; }
  .vb-emergency-banner { font-size: 1.1rem; }
}
"""

# Screen readers: announce status changes (validation messages, "still answering", thanks for feedback).
JS_ON_LOAD = """
() => {
  const label = () => {
    const status = document.getElementById("vb-status");
    if (!status) return false;
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    return true;
  };
  if (!label()) { const t = setInterval(() => { if (label()) clearInterval(t); }, 200); }
}
"""


class ChatBotLike(Protocol):
    """What the page needs from the bot (`bot.ChatBot` implements it)."""

    def stream(self, message: str, history: list[dict] | None = None) -> Iterator[str | Reply]: ...

    def health(self) -> dict[str, Any]: ...


@dataclass
class ChatSession:
    """One patient's conversation, held per browser session (Gradio State) — never shared, never global.

    The conversation id is drawn at the first turn (not here: Gradio deep-copies the initial state into every
    session, so an id drawn here would be the same for all patients).
    """

    conversation_id: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)  # what the chat shows
    history: list[dict[str, str]] = field(default_factory=list)  # what the bot reads back
    turn_ids: dict[int, int] = field(default_factory=dict)  # index of an assistant message → turn id
    ratings: dict[int, str | None] = field(default_factory=dict)  # turn id → "up" | "down" | None
    quotes: list[dict[str, Any]] = field(default_factory=list)  # every quote shown so far
    emergency: bool = False
    pending: str | None = None  # accepted message whose reply has not finished
    pending_since: datetime | None = None
    answering: bool = False
    last_accepted: tuple[str, datetime] | None = None  # (message, when), to recognise a double click
    feedback_turn: int | None = None  # turn whose optional comment box is open

    def busy(self, now: datetime) -> bool:
        return self.pending is not None and self.pending_since is not None and now - self.pending_since < STALE_PENDING

    def feedback_value(self) -> list[str | None]:
        """The thumbs state of each assistant message, in order, for the Chatbot's `feedback_value`."""
        values = []
        for i, m in enumerate(self.messages):
            if m["role"] == "assistant":
                r = self.ratings.get(self.turn_ids.get(i, -1))
                values.append({"up": "Like", "down": "Dislike"}.get(r or ""))
        return values


_claim_lock = threading.Lock()  # accepting and claiming a pending message: check-and-set across threads


class PatientChat:
    """Event handlers of the patient page. Configuration in `__init__`, one patient's data in each call."""

    def __init__(self, bot: ChatBotLike, conversation_log: ConversationLog, max_message_chars: int) -> None:
        self.bot = bot
        self.log = conversation_log
        self.max_message_chars = max_message_chars

    # ---- sending ------------------------------------------------------------------------------------
    def accept(self, text: str | None, session: ChatSession, shown: str | None = ""):
        """Validate and show the patient's message at once (no queue). Returns textbox, chat, session, status.

        `shown`: the conversation id the page shows (kept by the browser). Without a conversation in the
        session, the server lost it (a restart): the patient is told that a new conversation starts."""
        now = utcnow()
        text = ui.clean_text(text)
        lost = bool(shown) and session.conversation_id is None and not session.messages
        with _claim_lock:  # two sends of one patient can arrive together (see trigger_mode below)
            if session.busy(now):
                # a double click sends an empty box: keep the box as it is; a new question goes back into it
                keep = text if (text or "").strip() else gr.update()
                return keep, gr.update(), session, ui.STILL_ANSWERING
            message = (text or "").strip()
            if session.last_accepted and message == session.last_accepted[0] \
                    and now - session.last_accepted[1] < DOUBLE_SEND:
                return "", gr.update(), session, ui.ALREADY_ANSWERED
            problem = ui.check_message(text)
            if problem:
                return gr.update(), gr.update(), session, problem
            session.pending, session.pending_since, session.answering = message, now, False
            session.last_accepted = (message, now)
            notice = [{"role": "assistant", "content": ui.CONVERSATION_LOST_MD}] if lost else []
            shown = ui.user_message(ui.shown_message(message, self.max_message_chars))
            session.messages = [*session.messages, *notice, shown, ui.pending_message()]
        # An over-long message is still sent: the bot declines it, or escalates the crisis language in it; its
        # text stays in the box to be shortened.
        box = gr.update() if len(message) > self.max_message_chars else ""
        return box, self._chat(session), session, ui.CONVERSATION_LOST_MD if lost else ""

    def respond(self, session: ChatSession):
        """Stream the reply to the accepted message, store the turn, update sources and the banner."""
        with _claim_lock:
            if session.pending is None or session.answering:
                return  # nothing accepted (empty, still answering): nothing to do
            session.answering = True
            message, started = session.pending, session.pending_since or utcnow()
        try:
            reply = None
            streamed = ""
            try:
                for part in self.bot.stream(message, list(session.history)):
                    if isinstance(part, Reply):
                        reply = part
                        break
                    streamed += part
                    session.messages[-1] = ui.pending_message(streamed)
                    yield self._outputs(session)
            except Exception as exc:  # the bot fails closed itself; this is the last line of defence
                log.exception("the bot raised")
                reply = _safe_failure({"error": {"stage": "web", "type": type(exc).__name__, "message": str(exc)[:500]}})
            if reply is None:
                reply = _safe_failure({"error": {"stage": "web", "message": "the bot ended without a reply"}})
            index = len(session.messages) - 1
            session.messages[index] = ui.reply_message(reply)
            session.history += ui.history_entry(message, reply)
            session.quotes += [q.to_dict() for q in reply.quotes]
            session.emergency = session.emergency or reply.kind == "emergency"
            session.conversation_id = session.conversation_id or new_conversation_id()
            try:
                session.turn_ids[index] = self.log.record_turn(session.conversation_id, message, reply,
                                                               started_at=started)
            except Exception:  # the patient still gets the answer; the operator sees the error
                log.exception("could not store a turn in the conversation log")
        finally:
            session.pending, session.pending_since, session.answering = None, None, False
        yield self._outputs(session)

    # ---- feedback -----------------------------------------------------------------------------------
    def rate(self, session: ChatSession, data: gr.LikeData):
        """Thumbs up/down on an answer: stored at once; then offer the optional comment box."""
        index = data.index if isinstance(data.index, int) else data.index[0]
        turn_id = session.turn_ids.get(index)
        if turn_id is None or session.conversation_id is None:
            return session, gr.update(visible=False), gr.update(), ui.text("feedback_not_saveable")
        # True/False for the thumbs ("Like"/"Dislike" by name); anything else means the thumb was taken back
        liked = data.liked if isinstance(data.liked, (bool, str)) else None
        rating = {True: "up", False: "down", "Like": "up", "Dislike": "down"}.get(liked)
        try:
            self.log.set_feedback(turn_id, rating, conversation_id=session.conversation_id, keep_comment=True)
        except Exception:
            log.exception("could not store feedback")
            return session, gr.update(visible=False), gr.update(), ui.text("feedback_failed")
        session.ratings[turn_id] = rating
        if rating is None:
            session.feedback_turn = None
            return session, gr.update(visible=False), gr.update(), ""
        session.feedback_turn = turn_id
        prompt = ui.text("feedback_helpful" if rating == "up" else "feedback_not_helpful")
        return session, gr.update(visible=True), ui.text("feedback_ask_why", feedback=prompt), ""

    def comment(self, text: str | None, session: ChatSession):
        """The optional comment to the last rating. Returns comment box, its visibility, session, status."""
        turn_id = session.feedback_turn
        text = ui.clean_text(text)
        if turn_id is None:
            return "", gr.update(visible=False), session, ""
        rating = session.ratings.get(turn_id)
        try:
            self.log.set_feedback(turn_id, rating, (text or "").strip() or None,
                                  conversation_id=session.conversation_id, keep_comment=not (text or "").strip())
        except Exception:
            log.exception("could not store a feedback comment")
            return gr.update(), gr.update(), session, ui.text("comment_failed")
        session.feedback_turn = None
        return "", gr.update(visible=False), session, ui.FEEDBACK_THANKS.get(rating or "", ui.text("feedback_thanks"))

    def close_comment(self, session: ChatSession):
        session.feedback_turn = None
        return "", gr.update(visible=False), session

    # ---- new conversation ---------------------------------------------------------------------------
    def reset(self):
        session = ChatSession()
        return (self._chat(session), session, ui.NO_SOURCES_MD, gr.update(visible=False), "", "",
                gr.update(visible=False), "")

    # ---- outputs ------------------------------------------------------------------------------------
    def _chat(self, session: ChatSession):
        return gr.update(value=list(session.messages), feedback_value=session.feedback_value())

    def _outputs(self, session: ChatSession):
        """chat, session, sources, emergency banner, the conversation id the page keeps."""
        return (self._chat(session), session, ui.sources_markdown(session.quotes),
                gr.update(visible=session.emergency), session.conversation_id or "")


# The bot's safe-failure reply, for when the bot itself raised; the page's own words (read at start, while
# the wording is known to load) if even messages.yaml cannot be rendered.
_REPLIES = Replies(fallback=ui.text("safe_failure_fallback"))


def _safe_failure(trace: dict[str, Any]) -> Reply:
    return _REPLIES.safe_failure(trace, reason="error")


def library_documents(bot: Any) -> list[ui.SourceDocument]:
    """The documents the bot quotes from, for the page's library list."""
    docs = getattr(getattr(bot, "library", None), "documents", {}) or {}
    return sorted(
        (ui.SourceDocument(d.source, d.title, getattr(d, "publisher", None), getattr(d, "last_reviewed", None))
         for d in docs.values()),
        key=lambda d: d.title.lower(),
    )


def build_blocks(chat: PatientChat, documents: Sequence[ui.SourceDocument] = ()) -> gr.Blocks:
    """The patient page."""
    with gr.Blocks(title=ui.PAGE_TITLE, analytics_enabled=False) as page:
        session = gr.State(ChatSession())
        with gr.Column(elem_id="vb-page"):
            gr.Markdown(ui.HEADER_MD)
            gr.Markdown(ui.DISCLAIMER_MD, elem_id="vb-disclaimer")
            with gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=300):
                    chatbot = gr.Chatbot(
                        label=ui.text("labels.conversation"),
                        elem_id="vb-chat",
                        height="min(60vh, 36rem)",
                        min_height="16rem",
                        layout="bubble",
                        sanitize_html=True,  # plus web.ui's own escaping
                        render_markdown=True,
                        allow_tags=False,
                        latex_delimiters=[],
                        buttons=["copy"],  # no "share" to a public site
                        feedback_options=("Like", "Dislike"),
                        placeholder=ui.text("labels.chat_placeholder_md"),
                    )
                    # right above the input, where a patient's eyes are when the reply arrives (also on a phone)
                    banner = gr.HTML(ui.EMERGENCY_BANNER_HTML, visible=False, elem_id="vb-emergency")
                    textbox = gr.Textbox(
                        label=ui.text("labels.question"),
                        placeholder=ui.text("labels.question_placeholder"),
                        lines=1,  # Enter sends (a multi-line box would need Shift+Enter); it grows as you type
                        max_lines=6,
                        elem_id="vb-input",
                        autofocus=True,
                    )
                    status = gr.Markdown("", elem_id="vb-status")
                    with gr.Row():
                        send = gr.Button(ui.text("labels.send"), variant="primary", elem_id="vb-send", min_width=120)
                        new = gr.Button(ui.text("labels.new_conversation"), variant="secondary", elem_id="vb-new",
                                        min_width=120)
                    with gr.Group(visible=False) as feedback_box:
                        feedback_prompt = gr.Markdown("")
                        feedback_text = gr.Textbox(label=ui.text("labels.comment"), max_length=500, lines=2,
                                                   placeholder=ui.text("labels.comment_placeholder"),
                                                   elem_id="vb-comment")
                        with gr.Row():
                            feedback_send = gr.Button(ui.text("labels.comment_send"), size="sm",
                                                      elem_id="vb-comment-send")
                            feedback_close = gr.Button(ui.text("labels.comment_close"), size="sm",
                                                       elem_id="vb-comment-close")
                    gr.Markdown(ui.text("labels.example_questions_md"))
                    with gr.Row(elem_classes="vb-examples"):
                        examples = [gr.Button(q, size="sm", variant="secondary") for q in ui.EXAMPLE_QUESTIONS]
                with gr.Column(scale=2, min_width=260):
                    gr.Markdown(ui.text("labels.sources_heading_md"))
                    sources = gr.Markdown(ui.NO_SOURCES_MD, elem_id="vb-sources")
                    gr.Markdown(ui.text("labels.library_heading_md") + "\n\n" + ui.library_markdown(documents),
                                elem_id="vb-library")

        # the conversation id as the browser keeps it: the server's session state does not survive a restart
        shown = gr.Textbox("", visible=False, elem_id="vb-conversation")
        answer_outputs = [chatbot, session, sources, banner, shown]
        hidden = {"show_progress": "hidden", "queue": False}

        def ask(triggers: list, fn, inputs: list, api: str | None):
            """Accept at once (no queue), then answer in the queue. `api` names the two steps for programmatic
            clients (the load benchmark); other triggers of the same steps stay private."""
            visibility = "undocumented" if api else "private"
            # trigger_mode="multiple": a second send while the first is pending must reach `accept` and get
            # the "still answering" notice, not be dropped silently by the browser
            accepted = gr.on(triggers, fn, inputs, [textbox, chatbot, session, status], api_name=api,
                             api_visibility=visibility, trigger_mode="multiple", **hidden)
            return accepted.then(chat.respond, [session], answer_outputs, concurrency_id="chat",
                                 concurrency_limit=CHAT_CONCURRENCY, show_progress="hidden",
                                 api_name="respond" if api else None, api_visibility=visibility)

        answering = [ask([textbox.submit, send.click], chat.accept, [textbox, session, shown], "send")]
        for button, question in zip(examples, ui.EXAMPLE_QUESTIONS):
            answering.append(ask([button.click], functools.partial(chat.accept, question), [session, shown], None))

        chatbot.like(chat.rate, [session], [session, feedback_box, feedback_prompt, status],
                     api_visibility="private", **hidden)
        gr.on([feedback_send.click, feedback_text.submit], chat.comment, [feedback_text, session],
              [feedback_text, feedback_box, session, status], api_visibility="private", **hidden)
        feedback_close.click(chat.close_comment, [session], [feedback_text, feedback_box, session],
                             api_visibility="private", **hidden)
        reset_outputs = [chatbot, session, sources, banner, status, textbox, feedback_box, shown]
        new.click(chat.reset, None, reset_outputs, cancels=answering, api_name="new_conversation",
                  api_visibility="undocumented", **hidden)
        # the chat's own "clear" (bin) button: same as a new conversation, so screen and state never disagree
        chatbot.clear(chat.reset, None, reset_outputs, cancels=answering, api_visibility="private", **hidden)
    page.queue(default_concurrency_limit=CHAT_CONCURRENCY, max_size=QUEUE_MAX_SIZE)
    return page
