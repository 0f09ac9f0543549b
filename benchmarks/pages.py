"""Synthetic pages per second on one core: layout + shaping + drawing, degradation, PNG encoding.

    .venv/bin/python benchmarks/pages.py --script khmer --n 20            # A4 at 150-300 dpi
    .venv/bin/python benchmarks/pages.py --script thai --n 20 --dpi 150 150 --clean
"""
from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

from aksar.core.rng import rng_for
from aksar.data.render_pool import encode_png
from aksar.render.page import PageConfig, PageRenderer
from aksar.render.page_degrade import PageDegradeConfig
from aksar.render.page_layout import LayoutConfig
from aksar.text.corpus import CorpusConfig, filter_lines
from aksar.text.presets import preset_lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--script", default="khmer")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--dpi", type=int, nargs=2, default=(150, 300))
    ap.add_argument("--clean", action="store_true", help="no degradation")
    args = ap.parse_args()
    texts = list(itertools.islice(filter_lines(preset_lines(args.script), CorpusConfig(script=args.script)), 3000))
    cfg = PageConfig(layout=LayoutConfig(dpi=tuple(args.dpi)), degrade=PageDegradeConfig(enabled=not args.clean))
    renderer = PageRenderer(args.script, cfg)
    renderer.render(texts, rng_for(0, "warmup"))  # fonts, HarfBuzz faces
    t_render = t_png = 0.0
    lines, pixels = [], []
    for i in range(args.n):
        t0 = time.perf_counter()
        page = renderer.render(texts, rng_for(0, "bench", i))
        t1 = time.perf_counter()
        encode_png(page.image)
        t_png += time.perf_counter() - t1
        t_render += t1 - t0
        lines.append(len(page.lines))
        pixels.append(page.image.size)
    total = t_render + t_png
    print(f"{args.script}: {args.n} pages, dpi {args.dpi[0]}-{args.dpi[1]}, "
          f"{'clean' if args.clean else 'degraded'}; {np.mean(lines):.0f} lines/page, "
          f"{np.mean(pixels) / 1e6:.1f} Mpx/page")
    print(f"  render (layout, gate, draw, degrade): {t_render / args.n * 1000:.0f} ms/page")
    print(f"  PNG encode:                           {t_png / args.n * 1000:.0f} ms/page")
    print(f"  pages/s on one core:                  {args.n / total:.2f}  ({sum(lines) / total:.0f} lines/s)")


if __name__ == "__main__":
    main()
