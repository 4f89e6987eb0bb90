"""The bot: answers patient questions only with verified verbatim quotes. Public API: ChatBot, Reply, Quote."""

from .chatbot import ChatBot
from .types import REPLY_KINDS, Quote, Reply

__all__ = ["ChatBot", "Reply", "Quote", "REPLY_KINDS"]
