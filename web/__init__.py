"""The patient web chat: the Gradio page (`web.page`), the pure functions that turn the bot's replies into
what the page shows (`web.ui`, wording in `prompts/web.yaml`) and the one FastAPI server that hosts it and
the staff console (`web.server.create_app`).

Depends on `bot` (the `ChatBot` it asks) and `store` (the conversation log it writes); nothing depends on it
except `app.py`. Importing this package loads no server: import the module you need.

It does install one import hook, before anything here imports Gradio: Gradio's component metaclass re-parses
the source file of each of its ~80 component classes at every import to regenerate type stubs (`.pyi`) next
to them in site-packages (`gradio.component_meta.create_or_modify_pyi`). That is a development aid: it
changes nothing at run time, it was half of `import gradio` (about 1 s of the server's start here; see
docs/benchmarks.md) and it writes into the installed package. Gradio has no setting for it, so the hook
replaces that one function with a no-op as the module loads; if a Gradio release renames it, the hook does
nothing and Gradio behaves as it always did.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys

_STUB_MODULE = "gradio.component_meta"


def _no_stub_files(*args, **kwargs) -> None:
    """Stands in for Gradio's stub writer (see the module docstring)."""


class _SkipGradioStubs(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname != _STUB_MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            if callable(getattr(module, "create_or_modify_pyi", None)):
                module.create_or_modify_pyi = _no_stub_files

        spec.loader.exec_module = exec_module
        return spec


if _STUB_MODULE not in sys.modules and not any(isinstance(f, _SkipGradioStubs) for f in sys.meta_path):
    sys.meta_path.insert(0, _SkipGradioStubs())
