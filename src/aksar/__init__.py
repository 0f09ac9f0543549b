"""aksar: train OCR recognizers for complex, low-resource scripts from synthetic data.

Layers import only downward: core -> text -> render -> data -> models -> train -> infer; cli on top.
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Recognizer", "Reader", "__version__"]


def __getattr__(name: str):
    # Lazy: `import aksar` stays light (no torch) for the text and render CLIs.
    if name == "Recognizer":
        from aksar.infer.recognizer import Recognizer

        return Recognizer
    if name == "Reader":
        from aksar.infer.reader import Reader

        return Reader
    raise AttributeError(name)
