"""Synthetic sample generation: font choice -> shaping gate -> render -> augment -> degrade -> resize to height.

Fonts are drawn evenly over families first, then by style class (``style_weights``), then evenly within.
With ``degrade.enabled`` a document-degradation plan is drawn per line (see ``aksar.render.degrade``): it
may render at a small print size, re-crop the line with neighbour ink, and degrade the image.

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
from aksar.render.degrade import DegradeConfig, Degrader, Plan
from aksar.render.fonts import (DEFAULT_EXCLUDE, HELDOUT_FAMILIES, STYLE_CLASSES, FontInfo, discover_fonts, font_cmap,
                                resolve_font, script_letters, style_class)
from aksar.render.renderer import LineRenderer, RenderConfig
from aksar.render.shaping import ShapingGate
from aksar.text.scripts import get_script

log = logging.getLogger(__name__)


@dataclass
class SynthConfig:
    """Fonts, rendering and augmentation of synthetic lines."""

    render: RenderConfig = field(default_factory=RenderConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    font_dirs: list[str] = field(default_factory=list)      # extra folders searched before the system's
    fonts: list[str] = field(default_factory=list)          # explicit names/paths; empty = discover
    exclude_fonts: list[str] = field(default_factory=lambda: list(DEFAULT_EXCLUDE))
    exclude_families: list[str] = field(default_factory=list)  # whole families left out (any style)
    exclude_heldout: bool = False       # also leave out the script's HELDOUT_FAMILIES (kept for evaluation)
    include_system_fonts: bool = True
    # first choice: a family evenly, then a style class by these weights (renormalised over the classes
    # the family has), then a face of that class evenly; the other fonts follow as fallbacks
    style_weights: dict[str, float] = field(
        default_factory=lambda: {"regular": 0.6, "bold": 0.25, "italic": 0.15})
    degrade: DegradeConfig = field(default_factory=DegradeConfig)

    def __post_init__(self) -> None:
        unknown = set(self.style_weights) - set(STYLE_CLASSES)
        if unknown or any(w < 0 for w in self.style_weights.values()) or sum(self.style_weights.values()) <= 0:
            raise ValueError(f"style_weights: expected non-negative weights of {', '.join(STYLE_CLASSES)} "
                             f"with a positive sum, got {self.style_weights}")

    def excluded_names(self, script: str) -> list[str]:
        """Font/family names left out for ``script``: exclude_fonts + exclude_families (+ held-out)."""
        names = list(self.exclude_fonts) + list(self.exclude_families)
        if self.exclude_heldout:
            names += HELDOUT_FAMILIES.get(script, ())
        return names


@dataclass
class Sample:
    image: np.ndarray      # uint8 HxW grayscale, H = render.height
    text: str
    font: str              # FontInfo.name
    augment: list[dict]    # ops applied, with parameters


# A letter without ascender or descender: its ink height at 100 px gives the font's x-height ratio.


def resize_to_height(img: np.ndarray, height: int) -> np.ndarray:
    """Scale to ``height`` rows keeping the aspect ratio, as Pillow's BILINEAR (inference preprocessing's
    resize) does: antialiased when shrinking (OpenCV, see ``image_ops.resize_bilinear``)."""
    from aksar.render.image_ops import resize_bilinear

    h, w = img.shape
    if h == height:
        return img
    return resize_bilinear(img, (max(1, int(round(w * height / h))), height))


class Synthesizer:
    """Renders text lines of one script into training samples, never with a wrong label."""

    def __init__(self, script: str, cfg: SynthConfig | None = None):
        self.script = script
        self.cfg = cfg or SynthConfig()
        self.counters: Counter = Counter()
        self.neighbour_texts: list[str] = []  # lines drawn as neighbours (degrade.neighbours); empty: the text
        self._init_lazy()

    def _init_lazy(self) -> None:
        self._fonts: list[FontInfo] | None = None
        self._weights: np.ndarray | None = None
        self._x_ratio: dict[FontInfo, float] = {}
        self._renderer = LineRenderer(self.cfg.render, self.script)
        self._augmenter = Augmenter(self.cfg.augment)
        self._degrader = Degrader(self.cfg.degrade)
        self._gate: ShapingGate | None = None

    def __getstate__(self) -> dict:
        return {"script": self.script, "cfg": self.cfg, "counters": Counter(self.counters),
                "fonts": self._fonts, "neighbour_texts": self.neighbour_texts}

    def __setstate__(self, state: dict) -> None:
        self.script, self.cfg, self.counters = state["script"], state["cfg"], state["counters"]
        self._init_lazy()
        self._fonts = state.get("fonts")
        self.neighbour_texts = state.get("neighbour_texts", [])

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
            fonts = discover_fonts(self.script, cfg.font_dirs, cfg.include_system_fonts,
                                   cfg.excluded_names(self.script))
            if not fonts:
                where = ", ".join(cfg.font_dirs) or "the system font folders"
                packages = get_script(self.script).font_packages or "a font package of the script"
                raise AksarError(f"no {self.script} fonts found in {where} "
                                 f"(install e.g. {packages}, or set font_dirs / fonts)")
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

    @property
    def font_weights(self) -> np.ndarray:
        """Probability of each font being the first choice: family evenly, style class, face evenly."""
        if self._weights is None:
            fonts = self.fonts
            sw = self.cfg.style_weights
            groups: dict[str, dict[str, list[int]]] = {}
            for i, f in enumerate(fonts):
                groups.setdefault(f.family.lower(), {}).setdefault(style_class(f), []).append(i)
            w = np.zeros(len(fonts))
            for classes in groups.values():
                total = sum(sw.get(c, 0.0) for c in classes)
                for c, idx in classes.items():
                    if total > 0:
                        w[idx] = sw.get(c, 0.0) / total / len(idx) / len(groups)
            self._weights = w
        return self._weights

    # -- samples -------------------------------------------------------------------------------
    def candidate_fonts(self, text: str, rng: np.random.Generator, font_policy: str) -> list[FontInfo]:
        """All fonts in a weighted random order (``font_weights``; the first is the draw, the rest
        fallbacks). ``hash``: the order is seeded by the text, so a text always gets the same font."""
        if font_policy == "hash":
            rng = np.random.default_rng(stable_hash(text))
        elif font_policy != "random":
            raise AksarError(f"font_policy: expected 'random' or 'hash', got {font_policy!r}")
        fonts = self.fonts
        # exponential race: the smallest Exp(1)/w_i is font i with probability w_i / sum(w)
        with np.errstate(divide="ignore"):
            keys = rng.standard_exponential(len(fonts)) / self.font_weights
        return [fonts[i] for i in np.argsort(keys, kind="stable")]

    def x_height_ratio(self, font: FontInfo) -> float:
        """The font's x-height as a share of its pixel size (ink height of a reference letter)."""
        ratio = self._x_ratio.get(font)
        if ratio is None:
            ref = get_script(self.script).x_height_char
            try:
                mask, _ = self._renderer.ink(ref, font, 100)
                ratio = float(np.count_nonzero(mask.max(axis=1) >= 128)) / 100 if mask.size else 0.0
            except AksarError:
                ratio = 0.0
            ratio = ratio if 0.2 <= ratio <= 1.0 else 0.5  # fonts lacking the letter: a typical value
            self._x_ratio[font] = ratio
        return ratio

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
        plan = self._degrader.plan(rng) if augment else None
        try:
            img, record, scale = self._render(text, font, rng, plan)
        except AksarError as exc:
            log.debug("%s", exc)
            self.counters["skipped_no_ink"] += 1
            return None
        if augment:
            img, aug = self._augmenter(img, rng)
            record += aug
        if plan is not None:
            img, deg = self._degrader(img, rng, plan, scale)
            record += deg
            self.counters[f"degraded:{plan.profile}"] += 1
        img = resize_to_height(img, self.cfg.render.height)
        self.counters["rendered"] += 1
        return Sample(image=np.ascontiguousarray(img), text=text, font=font.name, augment=record)


    def _render(self, text: str, font: FontInfo, rng: np.random.Generator,
                plan: Plan | None) -> tuple[np.ndarray, list[dict], float]:
        """The line at font resolution, or (degrade plan) at a small print size, re-cropped with neighbours and rules;
        and the scan resampling factor that brings the x-height to ``degrade.small_type.x_height``."""
        if plan is None:
            return self._renderer.render(text, font), [], 1.0
        record: list[dict] = [{"op": "degrade", "profile": plan.profile}]
        size = self.cfg.render.font_size
        x_height = self.x_height_ratio(font) * size
        scale = 1.0
        if plan.on("small_type"):
            st = self._degrader.small_type(rng)
            size = st["px"]
            x_height = self.x_height_ratio(font) * size
            scale = st["x_height"] / x_height
            record.append({"op": "small_type", **st})
        img = self._renderer.render(text, font, size)
        if plan.on("margins") or plan.on("neighbours") or plan.on("rules"):
            neighbour = self._neighbour(text, font, size, rng) if plan.on("neighbours") else None
            img, rec = self._degrader.recrop(img, x_height, rng, plan, neighbour)
            record.append({"op": "crop", **rec})
        return img, record, scale

    def _neighbour(self, text: str, font: FontInfo, size: int, rng: np.random.Generator) -> np.ndarray | None:
        """A real neighbouring line in the same font and size (a corpus line, else this text rotated)."""
        pool = self.neighbour_texts
        if pool:
            other = pool[int(rng.integers(len(pool)))]
        else:
            words = text.split()
            k = int(rng.integers(len(words)))
            other = " ".join(words[k:] + words[:k])
        if self.gate.check(other, font) is not None:
            self.counters["neighbour_unrenderable"] += 1
            return None
        return self._renderer.render(other, font, size)


__all__ = ["SynthConfig", "Sample", "Synthesizer", "resize_to_height"]
