"""The page's event handlers in-process, with the real ChatBot (tests/conftest.py `chatbot`) and a real
SQLite log: streaming, per-patient state, busy / stale / invalid input, feedback, failures that must not
reach the patient. Also the server composition (`create_app`) and the queue settings."""

from __future__ import annotations

import copy
from datetime import timedelta

import gradio as gr
import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from store import ConversationLog, utcnow
from web import ui
from web.page import CHAT_CONCURRENCY, QUEUE_MAX_SIZE, ChatSession, PatientChat, build_blocks
from web.server import create_app


@pytest.fixture
def log(tmp_path):
    log = ConversationLog(f"sqlite:///{tmp_path / 'conversations.sqlite'}")
    yield log
    log.close()


@pytest.fixture
def chat(chatbot, log):
    return PatientChat(chatbot, log, max_message_chars=2000)


def send(chat: PatientChat, session: ChatSession, text: str) -> list[tuple]:
    """What the page does on Enter: accept, then respond (all its streamed outputs)."""
    chat.accept(text, session)
    return list(chat.respond(session))


def contents(update: dict) -> list[str]:
    return [m["content"] for m in update["value"]]


def like(index: int, liked) -> gr.LikeData:
    return gr.LikeData(None, {"index": index, "value": "", "liked": liked})


class TestSending:
    def test_the_patients_message_shows_at_once_and_the_reply_streams_in(self, chat, log):
        session = ChatSession()
        box, update, session, status = chat.accept("  What is a paraneoplastic syndrome?  ", session)
        assert (box, status) == ("", "")
        assert contents(update) == ["What is a paraneoplastic syndrome?", ui.PENDING_MD]

        outputs = list(chat.respond(session))
        assert len(outputs) > 2  # paragraph by paragraph, then the finished reply
        assert "vb-reply" not in contents(outputs[0][0])[-1]  # still streaming: no reply frame yet
        final_chat, session, sources, banner, shown = outputs[-1]
        assert contents(final_chat)[-1].startswith('<div class="vb-reply vb-answer">')
        assert "Paraneoplastic syndrome" in sources and banner["visible"] is False
        assert session.pending is None and not session.answering
        assert session.history[0] == {"role": "user", "content": "What is a paraneoplastic syndrome?"}
        assert not session.history[1]["content"].startswith("<div")  # the bot reads its own words back

        turn = log.turn(session.turn_ids[1])
        assert turn.conversation_id == session.conversation_id and turn.kind == "answer" and turn.quotes

    def test_a_follow_up_uses_the_conversation_so_far(self, chat, log):
        session = ChatSession()
        send(chat, session, "What is a paraneoplastic syndrome?")
        send(chat, session, "And the causes?")  # a fragment: it leans on the question before
        turns = log.conversation(session.conversation_id)
        assert [t.ordinal for t in turns] == [1, 2] and turns[1].kind == "answer"
        assert turns[1].reply_text.startswith("Here is what the documents say about that")
        assert sorted(session.turn_ids) == [1, 3]

    def test_an_emergency_raises_the_banner_for_the_rest_of_the_conversation(self, chat):
        session = ChatSession()
        *_, (update, session, _, banner, _) = send(chat, session, "I took too many pills")
        assert "vb-emergency" in contents(update)[-1] and banner["visible"] is True
        *_, (_, _, _, banner, _) = send(chat, session, "What is a paraneoplastic syndrome?")
        assert banner["visible"] is True

    def test_every_patient_gets_their_own_conversation_id(self, chat, log):
        initial = ChatSession()  # what gr.State holds; Gradio deep-copies it into each browser session
        one, two = copy.deepcopy(initial), copy.deepcopy(initial)
        send(chat, one, "What symptoms can it cause?")
        send(chat, two, "What symptoms can it cause?")
        assert initial.conversation_id is None
        assert one.conversation_id and two.conversation_id and one.conversation_id != two.conversation_id
        assert len(log.conversation(one.conversation_id)) == len(log.conversation(two.conversation_id)) == 1


class TestInputProblems:
    def test_an_empty_message_is_explained_and_nothing_is_sent(self, chat, log):
        session = ChatSession()
        box, update, session, status = chat.accept("   ", session)
        assert "Please type a question" in status
        assert box == gr.update() and update == gr.update()  # chat unchanged
        assert list(chat.respond(session)) == [] and session.messages == []
        assert log.count_turns() == 0

    def test_an_over_long_message_is_declined_by_the_bot_and_kept_in_the_box(self, chat, log):
        session = ChatSession()
        text = "Why does it happen? " * 110  # 2,200 characters
        box, _, session, _ = chat.accept(text, session)
        assert box == gr.update()  # kept, to be shortened
        list(chat.respond(session))
        assert f"{len(text.strip()):,} characters" in session.messages[-1]["content"]
        assert session.messages[-2]["content"].endswith("…")  # shown cut at the limit
        assert log.count_turns() == 1

    def test_crisis_language_in_an_over_long_message_escalates(self, chat):
        session = ChatSession()
        text = "I have been reading about my treatment for weeks. " * 40 + "I want to end my life tonight."
        chat.accept(text, session)
        list(chat.respond(session))
        assert session.emergency, session.messages[-1]

    def test_a_second_send_while_answering_is_kept_and_explained(self, chat, log):
        session = ChatSession()
        chat.accept("What symptoms can it cause?", session)
        box, update, _, status = chat.accept("How is it diagnosed?", session)
        assert status == ui.STILL_ANSWERING and box == "How is it diagnosed?" and update == gr.update()
        box, _, _, status = chat.accept("", session)  # a double click sends an empty box
        assert status == ui.STILL_ANSWERING and box == gr.update()
        assert len(session.messages) == 2
        assert list(chat.respond(session))  # the first question is answered…
        assert list(chat.respond(session)) == []  # …once
        assert [t.message for t in log.turns()] == ["What symptoms can it cause?"]

    def test_a_reply_that_never_finished_does_not_block_forever(self, chat):
        session = ChatSession()
        chat.accept("What symptoms can it cause?", session)
        session.pending_since = utcnow() - timedelta(minutes=3)  # e.g. its queued job was dropped
        box, _, _, status = chat.accept("How is it diagnosed?", session)
        assert (box, status) == ("", "") and session.pending == "How is it diagnosed?"


class TestFailures:
    def test_a_bot_that_raises_still_gives_a_calm_reply_and_a_logged_turn(self, chat, chatbot, log, monkeypatch):
        def broken(message, history=None):
            yield "Here is"
            raise RuntimeError("index vanished")

        monkeypatch.setattr(chatbot, "stream", broken)
        session = ChatSession()
        *_, (update, session, _, _, _) = send(chat, session, "What is a paraneoplastic syndrome?")
        assert "vb-no-answer" in contents(update)[-1] and "can't answer that right now" in contents(update)[-1]
        assert "index vanished" not in contents(update)[-1]
        turn = log.turns()[0]
        assert (turn.kind, turn.reason) == ("no_answer", "error")
        assert turn.trace["error"]["type"] == "RuntimeError"
        assert session.pending is None  # the next question can be asked

    def test_a_log_that_fails_does_not_cost_the_patient_the_answer(self, chat, log, monkeypatch):
        def fail(*args, **kwargs):
            raise OSError("disk full")

        monkeypatch.setattr(log, "record_turn", fail)
        session = ChatSession()
        *_, (update, session, _, _, _) = send(chat, session, "What is a paraneoplastic syndrome?")
        assert "vb-answer" in contents(update)[-1] and session.turn_ids == {}
        _, box, _, status = chat.rate(session, like(1, False))
        assert box["visible"] is False and "can't be saved" in status


class TestFeedback:
    def test_thumbs_down_then_a_comment(self, chat, log):
        session = ChatSession()
        send(chat, session, "What is a paraneoplastic syndrome?")
        turn_id = session.turn_ids[1]
        session, box, prompt, status = chat.rate(session, like(1, False))
        assert box["visible"] is True and "not helpful" in prompt and status == ""
        assert log.turn(turn_id).feedback == "down"
        assert session.feedback_value() == ["Dislike"]

        text, box, session, status = chat.comment("Too vague. Mail me at pat@example.org", session)
        assert (text, box["visible"]) == ("", False) and "Thank you" in status
        turn = log.turn(turn_id)
        assert (turn.feedback, turn.feedback_comment) == ("down", "Too vague. Mail me at [email]")

    def test_thumbs_up_without_a_comment_and_taking_it_back(self, chat, log):
        session = ChatSession()
        send(chat, session, "What is a paraneoplastic syndrome?")
        chat.rate(session, like(1, True))
        chat.close_comment(session)
        assert log.turn(session.turn_ids[1]).feedback == "up"
        _, box, _, _ = chat.rate(session, like(1, None))  # clicking the same thumb again
        assert box["visible"] is False and log.turn(session.turn_ids[1]).feedback is None

    def test_feedback_on_a_message_that_is_not_a_turn_is_refused_politely(self, chat):
        session = ChatSession()
        send(chat, session, "What is a paraneoplastic syndrome?")
        _, box, _, status = chat.rate(session, like(0, False))  # the patient's own message
        assert box["visible"] is False and "can't be saved" in status

    def test_a_conversation_the_server_lost_is_announced_as_new(self, chat):
        """After a restart the page still shows its conversation id, but the session is gone: say so."""
        session = ChatSession()
        send(chat, session, "What is a paraneoplastic syndrome?")
        shown = chat._outputs(session)[-1]
        assert shown == session.conversation_id and shown

        fresh = ChatSession()  # what Gradio hands in after the server restarted
        box, update, fresh, status = chat.accept("Is it curable?", fresh, shown)
        assert status == ui.CONVERSATION_LOST_MD
        assert contents(update)[0] == ui.CONVERSATION_LOST_MD and len(contents(update)) == 3
        outputs = list(chat.respond(fresh))[-1]
        assert outputs[-1] == fresh.conversation_id != shown, "a new conversation, with its own id"

        same = ChatSession()  # an ordinary first question: no notice
        assert chat.accept("What is a paraneoplastic syndrome?", same, "")[3] == ""

    def test_new_conversation_forgets_everything_on_screen(self, chat):
        session = ChatSession()
        send(chat, session, "I can't breathe")
        update, fresh, sources, banner, status, box, feedback, shown = chat.reset()
        assert update["value"] == [] and fresh.conversation_id is None and fresh.history == []
        assert sources == ui.NO_SOURCES_MD and banner["visible"] is False and feedback["visible"] is False


class TestServer:
    def test_one_server_with_room_for_the_staff_console(self, chatbot, corpus_index, log):
        staff = FastAPI()

        @staff.get("/")
        def staff_home():
            return {"app": "staff"}

        app = create_app(corpus_index.settings.bot, bot=chatbot, conversation_log=log, mounts=[("/staff", staff)])
        with TestClient(app) as client:
            assert client.get("/healthz").json() == {"status": "ok", "index_version": chatbot.library.version}
            assert client.get("/staff/").json() == {"app": "staff"}
            page = client.get("/")
            assert page.status_code == 200 and ui.PAGE_TITLE in page.text
            assert client.get("/docs").status_code == 404  # no OpenAPI pages on a patient-facing server

    def test_queue_and_concurrency_settings(self, chat):
        blocks = build_blocks(chat)
        fns = list(blocks.fns.values())
        respond = [f for f in fns if f.name == "respond"]
        assert len(respond) == 1 + len(ui.EXAMPLE_QUESTIONS)  # Enter/Send, and each example button
        assert {(f.concurrency_id, f.concurrency_limit, f.queue) for f in respond} == {("chat", CHAT_CONCURRENCY, True)}
        assert all(not f.queue for f in fns if f.name != "respond")  # cheap steps never wait behind answers
        assert blocks._queue.max_size == QUEUE_MAX_SIZE
        public = {f.api_name for f in fns if f.api_visibility != "private"}
        assert public == {"send", "respond", "new_conversation"}
