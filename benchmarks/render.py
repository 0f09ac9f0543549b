"""Lines/s per core: aksar's Synthesizer vs a plain Pillow-RAQM loop doing the same work, in one run.

    .venv/bin/python benchmarks/render.py --script khmer --num-samples 1000
"""
from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from aksar.core.rng import rng_for
from aksar.render import AugmentConfig, SynthConfig, Synthesizer
from aksar.render.renderer import RenderConfig
from aksar.text.corpus import CorpusConfig, filter_lines
from aksar.text.presets import preset_lines


def plain_loop(lines, fonts, size, height, seed, script):
    """Pillow RAQM: measure bbox, draw, blur, noise, resize to height."""
    from aksar.text.scripts import get_script

    lang = get_script(script).language
    pil = [ImageFont.truetype(f.path, size, layout_engine=ImageFont.Layout.RAQM) for f in fonts]
    for i, text in enumerate(lines):
        rng = rng_for(seed, "plain", i)
        font = pil[int(rng.integers(len(pil)))]
        l, t, r, b = font.getbbox(text, language=lang)
        im = Image.new("L", (r - l + 8, b - t + 8), 255)
        ImageDraw.Draw(im).text((4 - l, 4 - t), text, font=font, fill=0, language=lang)
        im = im.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.3))))
        a = np.asarray(im, dtype=np.float32) + rng.standard_normal((im.height, im.width), dtype=np.float32) * 8
        im = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
        im.resize((max(1, round(im.width * height / im.height)), height), Image.Resampling.BILINEAR)


def aksar_loop(synth, lines, seed):
    for i, text in enumerate(lines):
        synth.synthesize(text, rng_for(seed, "aksar", i))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--script", default="khmer")
    ap.add_argument("--num-samples", dest="n", type=int, default=1000)
    ap.add_argument("--n", dest="n", type=int, default=argparse.SUPPRESS, help=argparse.SUPPRESS)  # old spelling
    ap.add_argument("--size", type=int, default=48)
    ap.add_argument("--height", type=int, default=32)
    args = ap.parse_args()
    lines = list(itertools.islice(filter_lines(preset_lines(args.script), CorpusConfig(script=args.script)), args.n))
    render = RenderConfig(height=args.height, font_size=args.size)
    default = Synthesizer(args.script, SynthConfig(render=render))
    blur_noise = Synthesizer(args.script, SynthConfig(render=render, augment=AugmentConfig.only("blur", "noise")))
    fonts = default.fonts
    aksar_loop(default, lines[:20], 1), aksar_loop(blur_noise, lines[:20], 1), plain_loop(lines[:20], fonts, args.size, args.height, 1, args.script)
    rows = []
    for name, fn in [("plain Pillow-RAQM loop (bbox+draw, blur, noise, resize)",
                      lambda: plain_loop(lines, fonts, args.size, args.height, 0, args.script)),
                     ("aksar Synthesizer, blur+noise only (gate included)", lambda: aksar_loop(blur_noise, lines, 0)),
                     ("aksar Synthesizer, default augmentation (gate included)", lambda: aksar_loop(default, lines, 0))]:
        t = time.process_time()
        fn()
        dt = time.process_time() - t
        rows.append((name, len(lines) / dt))
    print(f"script {args.script}, {len(lines)} lines, {len(fonts)} fonts, font size {args.size}, height {args.height}, "
          "single process, CPU time")
    for name, rate in rows:
        print(f"  {name:<60} {rate:8.0f} lines/s per core")
    print(f"  aksar counters: {dict(default.counters)}")


if __name__ == "__main__":
    main()
