"""Synthetic sample generation: font choice -> shaping gate -> render -> augment -> resize to height.

``Synthesizer`` is picklable (DataLoader workers, multiprocessing): fonts, HarfBuzz and Pillow objects
load lazily in each process. Given the text and the Generator's state, the output is byte-identical.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from aksar.core.errors import AksarError
from aksar.core.io import stable_hash
from aksar.render.augment import AugmentConfig, Augmenter
from aksar.render.fonts import DEFAULT_EXCLUDE, FontInfo, discover_fonts, font_cmap, resolve_font, script_letters
from aksar.render.renderer import LineRenderer, RenderConfig
from aksar.render.shaping import ShapingGate

log = logging.getLogger(__name__)


@dataclass
class SynthConfig:
    """Fonts, rendering and augmentation of synthetic lines."""

    render: RenderConfig = field(default_factory=RenderConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    font_dirs: list[str] = field(default_factory=list)      # extra folders searched before the system's
    fonts: list[str] = field(default_factory=list)          # explicit names/paths; empty = discover
    exclude_fonts: list[str] = field(default_factory=lambda: list(DEFAULT_EXCLUDE))
    include_system_fonts: bool = True


@dataclass
class Sample:
    image: np.ndarray      # uint8 HxW grayscale, H = render.height
    text: str
    font: str              # FontInfo.name
    augment: list[dict]    # ops applied, with parameters


def resize_to_height(img: np.ndarray, height: int) -> np.ndarray:
    """Scale to ``height`` rows keeping the aspect ratio (area-averaging when shrinking)."""
    h, w = img.shape
    if h == height:
        return img
    from PIL import Image

    new_w = max(1, int(round(w * height / h)))
    out = Image.fromarray(img).resize((new_w, height), Image.Resampling.BILINEAR)
    return np.asarray(out)


class Synthesizer:
    """Renders text lines of one script into training samples, never with a wrong label."""

    def __init__(self, script: str, cfg: SynthConfig | None = None):
        self.script = script
        self.cfg = cfg or SynthConfig()
        self.counters: Counter = Counter()
        self._init_lazy()

    def _init_lazy(self) -> None:
        self._fonts: list[FontInfo] | None = None
        self._renderer = LineRenderer(self.cfg.render, self.script)
        self._augmenter = Augmenter(self.cfg.augment)
        self._gate: ShapingGate | None = None

    def __getstate__(self) -> dict:
        return {"script": self.script, "cfg": self.cfg, "counters": Counter(self.counters),
                "fonts": self._fonts}

    def __setstate__(self, state: dict) -> None:
        self.script, self.cfg, self.counters = state["script"], state["cfg"], state["counters"]
        self._init_lazy()
        self._fonts = state.get("fonts")

    # -- fonts ---------------------------------------------------------------------------------
    @property
    def fonts(self) -> list[FontInfo]:
        """The fonts in use (explicit ``cfg.fonts`` or discovered), resolved once per process."""
        if self._fonts is None:
            self._fonts = self._resolve_fonts()
        return self._fonts

    def _resolve_fonts(self) -> list[FontInfo]:
        from aksar.render.renderer import require_raqm

        require_raqm()
        cfg = self.cfg
        if not cfg.fonts:
            fonts = discover_fonts(self.script, cfg.font_dirs, cfg.include_system_fonts, cfg.exclude_fonts)
            if not fonts:
                where = ", ".join(cfg.font_dirs) or "the system font folders"
                raise AksarError(f"no {self.script} fonts found in {where} "
                                 f"(install e.g. fonts-khmeros / fonts-thai-tlwg / fonts-noto-core, "
                                 f"or set font_dirs / fonts)")
            return fonts
        letters = script_letters(self.script)
        fonts: list[FontInfo] = []
        problems: list[str] = []
        for name in cfg.fonts:
            try:
                font = resolve_font(name, cfg.font_dirs, script=self.script)
            except AksarError as exc:
                self.counters["font_unreadable"] += 1
                problems.append(str(exc))
                log.warning("skipped font: %s", exc)
                continue
            cmap = font_cmap(font)
            share = sum(ord(c) in cmap for c in letters) / max(1, len(letters))
            if share == 0:
                self.counters["font_lacking_script"] += 1
                msg = f"{font.path}: font {font.name!r} has no {self.script} letters"
                problems.append(msg)
                log.warning("skipped font: %s", msg)
                continue
            if font not in fonts:
                fonts.append(font)
        if not fonts:
            raise AksarError("none of the configured fonts can be used:\n  " + "\n  ".join(problems))
        return fonts

    @property
    def gate(self) -> ShapingGate:
        if self._gate is None:
            ref = next((f for f in self.fonts if 0x25CC in font_cmap(f)), None)
            self._gate = ShapingGate(self.script, reference_font=ref)
        return self._gate

    @property
    def renderer(self) -> LineRenderer:
        return self._renderer

    # -- samples -------------------------------------------------------------------------------
    def candidate_fonts(self, text: str, rng: np.random.Generator, font_policy: str) -> list[FontInfo]:
        fonts = self.fonts
        n = len(fonts)
        if font_policy == "random":
            return [fonts[i] for i in rng.permutation(n)]
        if font_policy == "hash":
            start = stable_hash(text) % n
            return fonts[start:] + fonts[:start]
        raise AksarError(f"font_policy: expected 'random' or 'hash', got {font_policy!r}")

    def pick_font(self, text: str, rng: np.random.Generator,
                  font_policy: Literal["random", "hash"] = "random") -> FontInfo | None:
        """The first candidate font that shapes ``text`` cleanly (rejections counted), or None."""
        for attempt, font in enumerate(self.candidate_fonts(text, rng, font_policy)):
            reason = self.gate.check(text, font)
            if reason is None:
                if attempt:
                    self.counters["font_fallback"] += 1
                return font
            self.counters[f"rejected:{reason}"] += 1
        return None

    def synthesize(self, text: str, rng: np.random.Generator, *,
                   font_policy: Literal["random", "hash"] = "random", augment: bool = True) -> Sample | None:
        """A sample of height ``cfg.render.height``, or None (counted) when no font renders ``text`` cleanly."""
        if not text.strip():
            self.counters["skipped_empty"] += 1
            return None
        font = self.pick_font(text, rng, font_policy)
        if font is None:
            self.counters["skipped_unrenderable"] += 1
            return None
        try:
            img = self._renderer.render(text, font)
        except AksarError as exc:
            log.debug("%s", exc)
            self.counters["skipped_no_ink"] += 1
            return None
        record: list[dict] = []
        if augment:
            img, record = self._augmenter(img, rng)
        img = resize_to_height(img, self.cfg.render.height)
        self.counters["rendered"] += 1
        return Sample(image=np.ascontiguousarray(img), text=text, font=font.name, augment=record)


__all__ = ["SynthConfig", "Sample", "Synthesizer", "resize_to_height"]
