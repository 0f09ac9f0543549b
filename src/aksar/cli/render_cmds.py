"""`aksar fonts`, `aksar render`, `aksar preview`: font coverage, single-line rendering, contact sheets."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    from aksar.render.fonts import DEFAULT_MIN_COVERAGE
    from aksar.render.renderer import RenderConfig

    p = sub.add_parser("fonts", help="list the fonts of a script with their coverage and missing characters")
    p.add_argument("--script", required=True, help="script name (khmer, thai)")
    p.add_argument("--font-dir", action="append", default=[], metavar="DIR",
                   help="extra folder (or font file) searched before the system fonts; repeatable")
    p.add_argument("--no-system", action="store_true", help="do not search the system font folders")
    p.add_argument("--charset", metavar="FILE", help="measure coverage of this charset instead of the script's letters")
    p.add_argument("--all", action="store_true", help="also list fonts left out by the default exclude list")
    p.add_argument("--min-coverage", type=float, default=DEFAULT_MIN_COVERAGE,
                   help="share of the script's letters a font must have (default %(default)s)")
    p.set_defaults(func=cmd_fonts)

    p = sub.add_parser("render", help="render one line of text to a PNG")
    p.add_argument("text", help="the text (use quotes)")
    p.add_argument("--font", required=True, metavar="NAME_OR_PATH", help="font name or file (path#index for .ttc)")
    p.add_argument("--out", required=True, metavar="PNG", help="output image")
    p.add_argument("--script", help="script (default: detected from the text)")
    p.add_argument("--font-size", type=int, default=RenderConfig().font_size)
    p.add_argument("--height", type=int, default=None,
                   help="scale the result to this height (default: keep font resolution)")
    p.add_argument("--augment", action="store_true", help="apply the default augmentation")
    p.add_argument("--seed", type=int, default=0, help="seed for --augment")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("preview", help="contact sheet of augmented samples with their labels")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--preset", help="corpus preset (khmer, thai); default: a training --config's data.preset")
    src.add_argument("--corpus", metavar="DIR", help="a built corpus directory (uses train.txt)")
    p.add_argument("--n", type=int, default=32, help="number of samples (default %(default)s)")
    p.add_argument("--columns", type=int, default=4)
    p.add_argument("--out", required=True, metavar="PNG")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--font-policy", choices=["random", "hash"], default="random")
    p.add_argument("--config", metavar="YAML", help="synth config (sections render, augment, degrade, fonts, ...) "
                   "or a training config (its data.synth, data.text_mix, data.max_text_length)")
    p.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE",
                   help="override a synth config key, e.g. -o render.height=48 -o augment.blur.p=1")
    p.set_defaults(func=cmd_preview)


def _charset_chars(path: str) -> list[str]:
    from aksar.text.charset import Charset

    chars: list[str] = []
    seen: set[str] = set()
    for token in Charset.load(path).tokens:
        for ch in token:
            if ch not in seen and not ch.isspace():
                seen.add(ch)
                chars.append(ch)
    return chars


def _show(chars: list[str], limit: int = 40) -> str:
    shown = " ".join(f"{c}(U+{ord(c):04X})" for c in chars[:limit])
    return shown + (f" ... (+{len(chars) - limit})" if len(chars) > limit else "")


def cmd_fonts(args: argparse.Namespace) -> int:
    from aksar.render.fonts import DEFAULT_EXCLUDE, coverage, scan_fonts, script_letters
    from aksar.text.scripts import get_script

    get_script(args.script)
    chars = _charset_chars(args.charset) if args.charset else list(script_letters(args.script))
    what = f"charset {args.charset} ({len(chars)} characters)" if args.charset else \
        f"{args.script} letters ({len(chars)})"
    scan = scan_fonts(args.script, args.font_dir, not args.no_system,
                      exclude=() if args.all else DEFAULT_EXCLUDE, min_coverage=args.min_coverage)
    out = sys.stdout
    print(f"fonts for {args.script}: coverage of {what}", file=out)
    for font in scan.fonts:
        covered, missing = coverage(font, chars)
        share = len(covered) / max(1, len(chars))
        print(f"  {font.name:<36} {share:7.1%}  {font.path}" + (f"#{font.index}" if font.index else ""), file=out)
        if missing:
            print(f"      missing {len(missing)}: {_show(missing)}", file=out)
    for font in scan.excluded:
        print(f"  excluded (decorative, default exclude list): {font.name}  {font.path}", file=out)
    for font, share in scan.lacking_script:
        print(f"  lacks the script ({share:.0%} of its letters): {font.name}  {font.path}", file=out)
    for font in scan.duplicates:
        print(f"  duplicate name, ignored: {font.name}  {font.path}", file=out)
    for font, reason in scan.refused:
        print(f"  refused (failed the probe line): {font.name}  {font.path}: {reason}", file=out)
    for path, reason in scan.unreadable:
        print(f"  unreadable: {path}: {reason}", file=out)
    c = scan.counts
    print(f"{c['usable']} usable, {c['refused']} refused, {c['excluded']} excluded, {c['lacking_script']} "
          f"lacking the script, {c['duplicate']} duplicate, {c['unreadable']} unreadable", file=out)
    return 0 if scan.fonts else 1


def cmd_render(args: argparse.Namespace) -> int:
    import numpy as np
    from PIL import Image

    from aksar.core.errors import AksarError
    from aksar.core.io import atomic_write_bytes
    from aksar.render.augment import Augmenter
    from aksar.render.fonts import resolve_font
    from aksar.render.renderer import LineRenderer, RenderConfig, require_raqm
    from aksar.render.shaping import ShapingGate
    from aksar.render.synth import resize_to_height
    from aksar.text.scripts import detect_script, get_script

    require_raqm()
    script = args.script or detect_script(args.text)
    if script:
        get_script(script)
    font = resolve_font(args.font, script=script)  # with a script: the per-font probe line too
    gate = ShapingGate(script)
    reason = gate.check(args.text, font)
    if reason == "missing_glyph":
        missing = gate.missing_chars(args.text, font)
        raise AksarError(f"font {font.name} ({font.path}) cannot draw {_show(missing) or 'this text'}: "
                         "refusing to render a wrong image")
    if reason == "dotted_circle":
        raise AksarError(f"text {args.text!r} contains a broken cluster (a mark or COENG without a base): "
                         "it would be drawn with a dotted circle")
    cfg = RenderConfig(font_size=args.font_size)
    img = LineRenderer(cfg, script).render(args.text, font)
    record: list = []
    if args.augment:
        from aksar.core.rng import rng_for

        img, record = Augmenter()(img, rng_for(args.seed, "render", args.text))
    if args.height:
        img = resize_to_height(img, args.height)
    import io

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img)).save(buf, format="PNG")
    atomic_write_bytes(args.out, buf.getvalue())
    print(f"wrote {args.out} ({img.shape[1]}x{img.shape[0]}, font {font.name})"
          + (f"; augment: {', '.join(r['op'] for r in record) or 'none'}" if args.augment else ""))
    return 0


def _load_synth_config(args: argparse.Namespace):
    """(SynthConfig, the training config's data section or {})."""
    from aksar.core.config import apply_overrides, from_dict, load_yaml
    from aksar.render.synth import SynthConfig

    data = load_yaml(args.config) if args.config else {}
    section = data["data"] if isinstance(data.get("data"), dict) else {}
    if isinstance(section.get("synth"), dict):
        data = section["synth"]
    elif "synth" in data and isinstance(data["synth"], dict):
        data = data["synth"]
    apply_overrides(data, args.override)
    return from_dict(SynthConfig, data, prefix="synth"), section


def _preview_lines(args: argparse.Namespace) -> tuple[str, list[str]]:
    from aksar.core.errors import AksarError
    from aksar.text.normalize import normalize

    limit = max(2000, args.n * 20)
    if not args.preset and not args.corpus:
        raise AksarError("preview: give --preset or --corpus (or a training --config with data.preset)")
    if args.preset:
        from aksar.text.presets import preset_lines, preset_script

        script = preset_script(args.preset)
        lines = []
        for _, _, text in preset_lines(args.preset):
            text = normalize(text, script)
            if text:
                lines.append(text)
            if len(lines) >= limit:
                break
    else:
        from aksar.text.corpus import corpus_script, read_split

        script = corpus_script(args.corpus)
        lines = read_split(args.corpus, "train")[:limit]
    return script, lines


def cmd_preview(args: argparse.Namespace) -> int:
    from aksar.core.errors import AksarError
    from aksar.core.io import atomic_write_bytes
    from aksar.core.rng import rng_for
    from aksar.render.preview import contact_sheet
    from aksar.render.synth import Synthesizer

    if args.n < 1:
        raise AksarError("--n must be at least 1")
    from aksar.core.rng import weighted_choice
    from aksar.text.domains import DomainText, check_text_mix

    cfg, section = _load_synth_config(args)
    if not args.preset and not args.corpus:
        args.preset = section.get("preset")
    script, lines = _preview_lines(args)
    if section.get("max_text_length"):
        lines = [t for t in lines if len(t) <= section["max_text_length"]]
    if not lines:
        raise AksarError(f"no lines in {'preset ' + args.preset if args.preset else args.corpus}")
    synth = Synthesizer(script, cfg)
    synth.neighbour_texts = lines
    mix = check_text_mix(section.get("text_mix"))
    domains = DomainText(script, lines, max_length=section.get("max_text_length")) if set(mix) != {"corpus"} else None
    pick = rng_for(args.seed, "preview", "lines").permutation(len(lines))
    samples = []
    for i in pick:
        text = lines[i]
        if domains is not None:
            kind = weighted_choice(mix, rng_for(args.seed, "preview", "domain", int(i)))
            if kind != "corpus":
                text = domains.generate(kind, rng_for(args.seed, "preview", "text", int(i)))
        s = synth.synthesize(text, rng_for(args.seed, "preview", int(i)), font_policy=args.font_policy,
                             augment=not args.no_augment)
        if s is not None:
            samples.append(s)
        if len(samples) >= args.n:
            break
    if not samples:
        raise AksarError("no line could be rendered cleanly with the configured fonts")
    sheet = contact_sheet(samples, args.columns, script=script)
    import io

    buf = io.BytesIO()
    sheet.save(buf, format="PNG")
    atomic_write_bytes(args.out, buf.getvalue())
    counts = ", ".join(f"{k} {v}" for k, v in sorted(synth.counters.items()))
    print(f"wrote {args.out}: {len(samples)} samples from {len(synth.fonts)} fonts ({counts})")
    return 0
