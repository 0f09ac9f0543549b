"""`aksar fonts`, `aksar render`, `aksar preview`: font coverage, single-line rendering, contact sheets."""
from __future__ import annotations

import argparse
import sys

from aksar.cli.configs import FontsConfig, PreviewConfig, RenderLineConfig
from aksar.cli.flags import add_config, fields_of, resolve
from aksar.text.presets import PRESETS
from aksar.text.scripts import SCRIPTS


def register(sub: argparse._SubParsersAction) -> None:
    scripts = {"script": sorted(SCRIPTS)}
    p = sub.add_parser("fonts", help="list the fonts of a script with their coverage and missing characters")
    add_config(p, FontsConfig, required=("script",), choices=scripts)
    p.set_defaults(func=cmd_fonts)

    p = sub.add_parser("render", help="render one line of text to a PNG")
    p.add_argument("text", help="the text (use quotes)")
    add_config(p, RenderLineConfig, required=("font", "out"), choices=scripts)
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("preview", help="contact sheet of augmented samples with their labels")
    add_config(p, PreviewConfig, required=("out",), aliases={"num_samples": ["--n"]}, load=_load_preview_yaml,
               section="synth", choices={"preset": sorted(PRESETS)})
    p.set_defaults(func=cmd_preview)


def _load_preview_yaml(path: str) -> dict:
    """A preview config, a synth config (sections render, augment, ...) or a training config (its
    data.preset, data.synth, data.text_mix, data.max_text_length) as a PreviewConfig mapping."""
    from aksar.core.config import load_yaml
    from aksar.render.synth import SynthConfig

    data = load_yaml(path)
    if isinstance(data.get("data"), dict):  # a training config
        section = data["data"]
        return {k: section[k] for k in ("preset", "synth", "text_mix", "max_text_length") if k in section}
    synth_keys = set(fields_of(SynthConfig))
    if data and set(data) <= synth_keys:
        return {"synth": data}
    return data


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

    cfg = resolve(args)
    get_script(cfg.script)
    chars = _charset_chars(cfg.charset) if cfg.charset else list(script_letters(cfg.script))
    what = f"charset {cfg.charset} ({len(chars)} characters)" if cfg.charset else \
        f"{cfg.script} letters ({len(chars)})"
    scan = scan_fonts(cfg.script, cfg.font_dir, cfg.system,
                      exclude=() if cfg.all else DEFAULT_EXCLUDE, min_coverage=cfg.min_coverage)
    out = sys.stdout
    print(f"fonts for {cfg.script}: coverage of {what}", file=out)
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

    cfg, text = resolve(args), args.text
    require_raqm()
    script = cfg.script or detect_script(text)
    if script:
        get_script(script)
    font = resolve_font(cfg.font, script=script)  # with a script: the per-font probe line too
    gate = ShapingGate(script)
    reason = gate.check(text, font)
    if reason == "missing_glyph":
        missing = gate.missing_chars(text, font)
        raise AksarError(f"font {font.name} ({font.path}) cannot draw {_show(missing) or 'this text'}: "
                         "refusing to render a wrong image")
    if reason == "dotted_circle":
        raise AksarError(f"text {text!r} contains a broken cluster (a mark or COENG without a base): "
                         "it would be drawn with a dotted circle")
    img = LineRenderer(RenderConfig(font_size=cfg.font_size), script).render(text, font)
    record: list = []
    if cfg.augment:
        from aksar.core.rng import rng_for

        img, record = Augmenter()(img, rng_for(cfg.seed, "render", text))
    if cfg.height:
        img = resize_to_height(img, cfg.height)
    import io

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img)).save(buf, format="PNG")
    atomic_write_bytes(cfg.out, buf.getvalue())
    print(f"wrote {cfg.out} ({img.shape[1]}x{img.shape[0]}, font {font.name})"
          + (f"; augment: {', '.join(r['op'] for r in record) or 'none'}" if cfg.augment else ""))
    return 0


def _preview_lines(cfg) -> tuple[str, list[str]]:
    from aksar.core.errors import AksarError
    from aksar.text.normalize import normalize

    limit = max(2000, cfg.num_samples * 20)
    if not cfg.preset and not cfg.corpus:
        raise AksarError("preview: give --preset or --corpus (or a training --config with data.preset)")
    if not cfg.corpus:
        from aksar.text.presets import preset_lines, preset_script

        script = preset_script(cfg.preset)
        lines = []
        for _, _, text in preset_lines(cfg.preset):
            text = normalize(text, script)
            if text:
                lines.append(text)
            if len(lines) >= limit:
                break
    else:
        from aksar.text.corpus import corpus_script, read_split

        script = corpus_script(cfg.corpus)
        lines = read_split(cfg.corpus, "train")[:limit]
    return script, lines


def cmd_preview(args: argparse.Namespace) -> int:
    from aksar.core.errors import AksarError
    from aksar.core.io import atomic_write_bytes
    from aksar.core.rng import rng_for, weighted_choice
    from aksar.render.preview import contact_sheet
    from aksar.render.synth import Synthesizer
    from aksar.text.domains import DomainText, check_text_mix

    cfg = resolve(args)
    if cfg.num_samples < 1:
        raise AksarError("--num-samples must be at least 1")
    script, lines = _preview_lines(cfg)
    if cfg.max_text_length:
        lines = [t for t in lines if len(t) <= cfg.max_text_length]
    if not lines:
        raise AksarError(f"no lines in {'corpus ' + cfg.corpus if cfg.corpus else 'preset ' + str(cfg.preset)}")
    synth = Synthesizer(script, cfg.synth)
    synth.neighbour_texts = lines
    mix = check_text_mix(cfg.text_mix)
    domains = DomainText(script, lines, max_length=cfg.max_text_length) if set(mix) != {"corpus"} else None
    pick = rng_for(cfg.seed, "preview", "lines").permutation(len(lines))
    samples = []
    for i in pick:
        text = lines[i]
        if domains is not None:
            kind = weighted_choice(mix, rng_for(cfg.seed, "preview", "domain", int(i)))
            if kind != "corpus":
                text = domains.generate(kind, rng_for(cfg.seed, "preview", "text", int(i)))
        s = synth.synthesize(text, rng_for(cfg.seed, "preview", int(i)), font_policy=cfg.font_policy,
                             augment=cfg.augment)
        if s is not None:
            samples.append(s)
        if len(samples) >= cfg.num_samples:
            break
    if not samples:
        raise AksarError("no line could be rendered cleanly with the configured fonts")
    sheet = contact_sheet(samples, cfg.columns, script=script)
    import io

    buf = io.BytesIO()
    sheet.save(buf, format="PNG")
    atomic_write_bytes(cfg.out, buf.getvalue())
    counts = ", ".join(f"{k} {v}" for k, v in sorted(synth.counters.items()))
    print(f"wrote {cfg.out}: {len(samples)} samples from {len(synth.fonts)} fonts ({counts})")
    return 0
