"""Asking every item through the public ChatBot API, the way a patient would.

Each item's turns form one conversation: turn n is asked with the history of turns 1..n-1 and the bot's
replies to them, in the `{"role", "content"}` format of DESIGN.md. Only the last reply is scored, but
every turn is timed (latency is a per-turn figure).
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

from tqdm import tqdm

from .validation import Item

DEFAULT_BOT = "bot:ChatBot.from_settings"


class Bot(Protocol):
    def ask(self, message: str, history: list[dict[str, str]] | None = None) -> Any: ...


@dataclass
class ItemRun:
    item: Item
    reply: dict[str, Any] | None  # the last turn's Reply.to_dict(); None when the bot raised
    turn_seconds: list[float] = field(default_factory=list)
    error: str | None = None  # "ExceptionType: message" when asking raised

    @property
    def kind(self) -> str:
        # "error" is not a reply kind: it shows up as its own column of the confusion matrix.
        return self.reply["kind"] if self.reply else "error"


def ask_item(bot: Bot, item: Item, clock: Callable[[], float] = time.perf_counter) -> ItemRun:
    history: list[dict[str, str]] = []
    seconds: list[float] = []
    reply = None
    try:
        for turn in item.turns:
            started = clock()
            reply = bot.ask(turn, history=list(history))  # a copy: a bot must not see later turns
            seconds.append(clock() - started)
            history += [{"role": "user", "content": turn}, {"role": "assistant", "content": reply.text}]
    except Exception as exc:  # the bot should fail closed; if it does not, the run still finishes
        return ItemRun(item, None, seconds, f"{type(exc).__name__}: {exc}")
    return ItemRun(item, reply.to_dict(), seconds)


def run_items(bot: Bot, items: Sequence[Item], progress: bool = True, desc: str = "asking") -> list[ItemRun]:
    return [ask_item(bot, item) for item in tqdm(items, desc=desc, unit="item", disable=not progress)]


def load_bot(spec: str = DEFAULT_BOT) -> Bot:
    """Build the bot from "module:callable" (dots allowed after the colon), e.g. "bot:ChatBot.from_settings".

    The default is the product as configured by VERBATIM_* settings; another spec lets an evaluator
    measure a variant (and lets the gate's own test run a deliberately degraded bot).
    """
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"--bot must look like 'module:callable', got {spec!r}")
    target: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        target = getattr(target, part)
    return target()
