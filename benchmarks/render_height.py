"""Is 32 px enough for Khmer stacks? Render distinct clusters, scale to each height, count collisions.

    .venv/bin/python benchmarks/render_height.py
Each distinct cluster of the Khmer preset (most complex first) is rendered with the font's full line box
(so every cluster keeps the same scale), scaled to the target height, and compared with every other cluster
of the same width: "identical" = same bitmap, "near" = mean absolute difference < 6 grey levels.
"""
from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np

from aksar.render.fonts import resolve_font
from aksar.render.renderer import LineRenderer, RenderConfig
from aksar.render.synth import resize_to_height
from aksar.text.corpus import CorpusConfig, filter_lines
from aksar.text.graphemes import clusters
from aksar.text.presets import preset_lines


def main() -> None:
    lines = itertools.islice(filter_lines(preset_lines("khmer"), CorpusConfig(script="khmer")), 5000)
    distinct = sorted({c for line in lines for c in clusters(line) if len(c) > 1}, key=lambda c: (-len(c), c))[:1200]
    for font_name in ("Khmer OS", "Noto Sans Khmer"):
        font = resolve_font(font_name)
        r = LineRenderer(RenderConfig(font_size=96, padding=0.0, crop="line"), "khmer")
        base = [r.render(c, font) for c in distinct]
        print(f"{font_name}: {len(distinct)} distinct clusters (longest {len(distinct[0])} code points)")
        for h in (24, 32, 40, 48):
            imgs = [resize_to_height(b, h).astype(np.int16) for b in base]
            buckets = defaultdict(list)
            for i, im in enumerate(imgs):
                buckets[im.shape].append(i)
            identical = near = 0
            for idx in buckets.values():
                for a, b in itertools.combinations(idx, 2):
                    d = np.abs(imgs[a] - imgs[b]).mean()
                    identical += d == 0
                    near += d < 6
            print(f"  height {h:2d}: identical pairs {identical:4d}, near-identical pairs {near:4d}")


if __name__ == "__main__":
    main()
