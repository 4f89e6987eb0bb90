"""Training of the learned components from the real public data in ../shared/training (never run by serving).

    python -m train intent          # the message intent classifier  -> bot/models/intent.npz + intent.md
    python -m train answerability   # the (question, passage) scorer -> bot/models/answerability.npz + .md

Each command is reproducible (fixed seeds, splits by document or source, data hashes in the model card) and
writes its validation numbers and, once, its locked-test numbers into the model card.
"""
