"""The patient web chat: the Gradio page (`web.page`), the pure functions that turn the bot's replies into
what the page shows (`web.ui`, wording in `prompts/web.yaml`) and the one FastAPI server that hosts it and
the staff console (`web.server.create_app`).

Depends on `bot` (the `ChatBot` it asks) and `store` (the conversation log it writes); nothing depends on it
except `app.py`. Importing this package loads no server: import the module you need.
"""
