"""Evaluation: labelled question sets through the public ChatBot API; metrics, reports, comparisons, a CI gate.

Import submodules explicitly (`from eval import metrics`): the package name shadows the builtin `eval`.
"""
