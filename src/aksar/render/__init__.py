"""aksar.render: fonts, shaping gate, line rendering, augmentation and sample synthesis (no torch)."""
from aksar.render.augment import AugmentConfig, Augmenter
from aksar.render.fonts import DEFAULT_EXCLUDE, FontInfo, coverage, discover_fonts, font_cmap, resolve_font
from aksar.render.renderer import LineRenderer, RenderConfig, require_raqm
from aksar.render.shaping import ShapingGate
from aksar.render.synth import Sample, SynthConfig, Synthesizer

__all__ = [
    "AugmentConfig", "Augmenter", "DEFAULT_EXCLUDE", "FontInfo", "coverage", "discover_fonts", "font_cmap",
    "resolve_font", "LineRenderer", "RenderConfig", "require_raqm", "ShapingGate", "Sample", "SynthConfig",
    "Synthesizer",
]
