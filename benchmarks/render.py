"""Lines/s per core: aksar vs a plain Pillow-RAQM loop on the same lines, in one run, per script.

    .venv/bin/python benchmarks/render.py                        # khmer and thai, 500 lines each
    .venv/bin/python benchmarks/render.py --script khmer --num-samples 1000 --json out.json

Rows (CPU time, time.process_time, single process; each loop runs once on the same lines after a warm-up
on other lines of the corpus (``--warmup``, default 2000: a few seconds of a render worker's life), so the
glyph cache holds what a training worker holds, ~97% hits, not every glyph; ``--warmup 300`` shows a colder
cache; OpenCV runs on one thread as in aksar's render workers, ``--cv2-threads``):

- plain: Pillow RAQM with the default "la" anchor: getbbox + draw, [blur, noise,] resize to height;
- aksar Synthesizer (font choice, shaping gate, render, [augment,] resize) with no augmentation, blur+noise
  only (the plain loop's work), and the default augmentation; each with its ratio to the plain loop doing
  the matching work (the default augmentation is compared with the blur+noise plain loop);
- bare LineRenderer.render of each engine (glyph cache vs RAQM), no gate and no augmentation.
"""
from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import sys
import time

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from aksar.core.rng import rng_for
from aksar.render import AugmentConfig, SynthConfig, Synthesizer
from aksar.render.renderer import LineRenderer, RenderConfig
from aksar.text.corpus import CorpusConfig, filter_lines
from aksar.text.presets import preset_lines
from aksar.text.scripts import get_script


def plain_loop(lines, pil_fonts, height, seed, script, augment=True):
    """Pillow RAQM: measure bbox, draw, [blur, noise,] resize to height."""
    lang = get_script(script).language
    for i, text in enumerate(lines):
        rng = rng_for(seed, "plain", i)
        font = pil_fonts[int(rng.integers(len(pil_fonts)))]
        l, t, r, b = font.getbbox(text, language=lang)
        im = Image.new("L", (r - l + 8, b - t + 8), 255)
        ImageDraw.Draw(im).text((4 - l, 4 - t), text, font=font, fill=0, language=lang)
        if augment:
            im = im.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.3))))
            a = np.asarray(im, dtype=np.float32) + rng.standard_normal((im.height, im.width), dtype=np.float32) * 8
            im = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
        im.resize((max(1, round(im.width * height / im.height)), height), Image.Resampling.BILINEAR)


def aksar_loop(synth, lines, seed, augment=True):
    for i, text in enumerate(lines):
        synth.synthesize(text, rng_for(seed, "aksar", i), augment=augment)


def render_loop(renderer, lines, fonts, seed):
    for i, text in enumerate(lines):
        font = fonts[int(rng_for(seed, "bare", i).integers(len(fonts)))]
        try:
            renderer.render(text, font)
        except Exception:  # noqa: BLE001 -- a line a font cannot draw costs the same in both engines
            pass


def cpu(fn) -> float:
    t = time.process_time()
    fn()
    return time.process_time() - t


def bench_script(script: str, args) -> dict:
    corpus = filter_lines(preset_lines(script), CorpusConfig(script=script))
    lines = list(itertools.islice(corpus, args.n * args.rounds + args.warmup))
    rounds = [lines[k * args.n:(k + 1) * args.n] for k in range(args.rounds)]
    warm = lines[args.n * args.rounds:] or rounds[0]
    render = RenderConfig(height=args.height, font_size=args.size)
    raqm = RenderConfig(height=args.height, font_size=args.size, engine="raqm")
    default = Synthesizer(script, SynthConfig(render=render))
    noaug = Synthesizer(script, SynthConfig(render=render))  # its own caches: no loop sees lines another ran
    blur_noise = Synthesizer(script, SynthConfig(render=render, augment=AugmentConfig.only("blur", "noise")))
    fonts = default.fonts
    pil = [ImageFont.truetype(f.path, args.size, index=f.index, layout_engine=ImageFont.Layout.RAQM) for f in fonts]
    bare = {"cache": LineRenderer(render, script), "raqm": LineRenderer(raqm, script)}
    jobs = [  # key, label, work, baseline key
        ("plain_bare", "plain Pillow-RAQM loop (bbox+draw, resize)",
         lambda ls, seed: plain_loop(ls, pil, args.height, seed, script, augment=False), None),
        ("plain", "plain Pillow-RAQM loop (bbox+draw, blur, noise, resize)",
         lambda ls, seed: plain_loop(ls, pil, args.height, seed, script), None),
        ("aksar_noaug", "aksar Synthesizer, no augmentation (gate included)",
         lambda ls, seed: aksar_loop(noaug, ls, seed, augment=False), "plain_bare"),
        ("aksar_blur_noise", "aksar Synthesizer, blur+noise only (gate included)",
         lambda ls, seed: aksar_loop(blur_noise, ls, seed), "plain"),
        ("aksar_default", "aksar Synthesizer, default augmentation (gate included)",
         lambda ls, seed: aksar_loop(default, ls, seed), "plain"),
        ("render_raqm", "bare LineRenderer.render, engine raqm (Pillow getmask2)",
         lambda ls, seed: render_loop(bare["raqm"], ls, fonts, seed), None),
        ("render_cache", "bare LineRenderer.render, engine cache (glyph cache)",
         lambda ls, seed: render_loop(bare["cache"], ls, fonts, seed), "render_raqm"),
    ]
    caches = {"aksar_noaug": noaug.renderer, "aksar_blur_noise": blur_noise.renderer,
              "aksar_default": default.renderer, "render_cache": bare["cache"]}
    for _key, _label, work, _base in jobs:
        work(warm, 1)
    # rounds: every loop in turn on new lines (no loop reads lines it has cached), so a slow spell of the
    # machine hits a round's loops alike; rates and ratios are the medians over rounds
    rates: dict[str, list[float]] = {key: [] for key, *_ in jobs}
    glyphs = {key: [0, 0] for key in caches}
    for k, part in enumerate(rounds):
        for key, _label, work, _base in jobs:
            cache = caches[key].glyphs.cache if key in caches else None
            before = dict(cache.stats) if cache else None
            rates[key].append(len(part) / cpu(lambda: work(part, 10 + k)))
            if cache:  # glyph lookups of the timed runs answered from the cache
                glyphs[key][0] += cache.stats["hits"] - before["hits"]
                glyphs[key][1] += cache.stats["misses"] - before["misses"]
    rows: dict[str, dict] = {}
    for key, label, _work, base in jobs:
        row = {"label": label, "lines": len(lines), "rounds": len(rounds),
               "lines_per_s": round(float(np.median(rates[key])), 1),
               "lines_per_s_rounds": [round(r, 1) for r in rates[key]]}
        if key in glyphs:
            hits, misses = glyphs[key]
            row["glyph_hit_rate"] = round(hits / max(1, hits + misses), 4)
        if base:
            row["baseline"] = base
            row["ratio"] = round(float(np.median([a / b for a, b in zip(rates[key], rates[base])])), 2)
        rows[key] = row
    cache = default.renderer.glyphs.cache.stats
    return {"lines": args.n, "rounds": len(rounds), "warmup_lines": len(warm), "fonts": len(fonts),
            "mean_chars": round(float(np.mean([len(t) for t in lines])), 1), "rows": rows,
            "glyph_cache": cache, "counters": dict(default.counters)}


def machine() -> dict:
    import PIL
    from PIL import features

    info = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
            "pillow": PIL.__version__, "pillow_freetype": features.version("freetype2"),
            "raqm": features.version("raqm")}
    try:
        import freetype

        info["freetype_py"] = ".".join(map(str, freetype.version()))
    except ImportError:
        info["freetype_py"] = None
    try:
        with open("/proc/cpuinfo") as fh:
            info["cpu_model"] = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), None)
    except OSError:
        pass
    return info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--script", default="khmer,thai", help="comma-separated scripts (default khmer,thai)")
    ap.add_argument("--num-samples", dest="n", type=int, default=500)
    ap.add_argument("--n", dest="n", type=int, default=argparse.SUPPRESS, help=argparse.SUPPRESS)  # old spelling
    ap.add_argument("--warmup", type=int, default=2000,
                    help="other corpus lines each loop runs first (fonts loaded, glyphs cached; default 2000, a few "
                    "seconds of a render worker)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="timed rounds, each on --num-samples new lines; rates and ratios are their medians")
    ap.add_argument("--cv2-threads", type=int, default=1,
                    help="OpenCV threads (default 1, as in aksar's render workers: one_thread_per_worker)")
    ap.add_argument("--size", type=int, default=48)
    ap.add_argument("--height", type=int, default=32)
    ap.add_argument("--json", nargs="?", const="-", default=None, metavar="PATH",
                    help="also print the results as one JSON object (and write it to PATH if given)")
    args = ap.parse_args()
    import cv2

    cv2.setNumThreads(args.cv2_threads)
    result = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "command": " ".join([os.path.basename(sys.executable), *sys.argv]), "machine": machine(),
              "num_samples": args.n, "font_size": args.size, "height": args.height, "timing": "process_time, median of rounds",
              "warmup": args.warmup, "cv2_threads": args.cv2_threads, "scripts": {}}
    for script in [s.strip() for s in args.script.split(",") if s.strip()]:
        res = result["scripts"][script] = bench_script(script, args)
        print(f"script {script}: {res['rounds']} rounds of {res['lines']} lines (mean {res['mean_chars']} chars), {res['fonts']} fonts, "
              f"font size {args.size}, height {args.height}, single process, CPU time, "
              f"{args.warmup} warm-up lines, OpenCV threads {args.cv2_threads}")
        for row in res["rows"].values():
            ratio = f"  x{row['ratio']:.2f} vs {row['baseline']}" if "ratio" in row else ""
            hit = f", glyph hits {row['glyph_hit_rate']:.1%}" if "glyph_hit_rate" in row else ""
            rounds = "/".join(f"{r:.0f}" for r in row["lines_per_s_rounds"])
            print(f"  {row['label']:<60} {row['lines_per_s']:8.0f} lines/s per core (rounds {rounds}{hit}){ratio}")
        print(f"  glyph cache (default Synthesizer): {res['glyph_cache']}")
        print(f"  aksar counters: {res['counters']}")
    if args.json is not None:
        text = json.dumps(result, indent=2, ensure_ascii=False)
        print(text)
        if args.json != "-":
            with open(args.json, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")


if __name__ == "__main__":
    main()
