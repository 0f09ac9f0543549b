"""The fixed evaluation sets: ``aksar evalset build`` -- built once, versioned, byte-reproducible.

One folder per set, each readable by ``aksar eval`` (``images/`` + ``labels.tsv`` + ``metadata.json``)::

    heldout_fonts  corpus test lines, held-out font families, aksar's renderer (RAQM), clean
    pango          the same kind of lines and fonts rendered by Pango/Cairo (Tesseract's text2image)
    degraded       Pango lines printed at 8-12 pt, 150-200 dpi, scanned: noise, blur, rotation, JPEG
    lowres         corpus test lines in training fonts at an x-height of 6-10 px (72-dpi scans)
    domain         UI strings from the gettext catalogs (.mo) Debian ships, training fonts, clean

``split: val`` builds the same sets from the corpus's val lines instead: a tuning copy on which inference
settings (trim, LM weight) can be chosen without looking at the test lines.

``manifest.json`` holds the set ``version``, the build config, what was skipped per set and why, and
the sha256 of every file; ``validate_evalset`` checks them. Every line is checked before it is written:
the shaping gate for its font (no missing glyph, no dotted circle) and, for text2image, the box file's
text against the label. Nothing depends on time or paths: the same seed gives the same bytes.
"""
from __future__ import annotations

import json
import re
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aksar.core.config import to_dict
from aksar.core.errors import AksarError
from aksar.core.io import atomic_write_bytes, atomic_write_json, atomic_write_text, sha256_bytes, sha256_file
from aksar.core.rng import rng_for

KIND = "aksar-evalset"
FORMAT_VERSION = 1
EVALSET_VERSION = 1  # bump when a recipe below changes: results on different versions do not compare
SETS = ("heldout_fonts", "pango", "degraded", "lowres", "domain")
MAX_FALLBACK_FONTS = 8
# text2image draws bilevel: hairline faces printed at 8-12 pt and 150-200 dpi fall apart into dots that
# nobody could read, so the degraded set leaves them out; heavy faces get no thickening exposure (+1,
# which fills their counters); and a degraded line with almost no ink left (under this share of dark
# pixels) is skipped as "faded".
HAIRLINE_FACE = re.compile(r"\b(Thin|(Ultra|Extra)-?Light|Light)\b", re.IGNORECASE)
HEAVY_FACE = re.compile(r"\b(Bold|Semi-?Bold|(Ultra|Extra)-?Bold|Black|Heavy)\b", re.IGNORECASE)
MIN_INK_SHARE = 0.02


@dataclass
class EvalsetConfig:
    """Options of ``aksar evalset build`` (CLI defaults come from here)."""

    script: str = "khmer"
    corpus_dir: str = ""                 # default: data/<script>/corpus
    split: str = "test"                  # corpus split the lines come from ("val": a tuning copy)
    output_dir: str = ""                 # default: eval/<script>
    lines: int = 400                     # per set
    sets: list[str] = field(default_factory=lambda: list(SETS))
    seed: int = 8
    min_length: int = 5                  # code points per line
    max_length: int = 60
    font_size: int = 36                  # heldout_fonts and domain (aksar renderer), pixels per em
    pango_ptsize: tuple[int, int] = (10, 14)
    pango_resolution: int = 300
    degraded_ptsize: tuple[int, int] = (8, 12)
    degraded_resolution: tuple[int, int] = (150, 200)
    lowres_x_height: tuple[float, float] = (6.0, 10.0)
    page_lines: int = 16                 # lines per text2image call
    locale_dir: str = "/usr/share/locale"

    def __post_init__(self) -> None:
        self.corpus_dir = self.corpus_dir or f"data/{self.script}/corpus"
        self.output_dir = self.output_dir or f"eval/{self.script}"
        unknown = [s for s in self.sets if s not in SETS]
        if unknown:
            raise AksarError(f"unknown evaluation set(s) {', '.join(unknown)}; known: {', '.join(SETS)}")
        if self.lines < 1:
            raise AksarError(f"--lines must be >= 1, got {self.lines}")
        if self.split not in ("val", "test"):
            raise AksarError(f"split: expected val or test, got {self.split!r} (the train lines are trained on)")


@dataclass
class Line:
    """One accepted line: encoded image bytes, its extension, label, font and what was drawn."""

    pos: int
    text: str
    font: str
    data: bytes
    ext: str
    size: tuple[int, int]  # (width, height)
    params: dict


class _Set:
    """Lines of one set being collected, with every skip counted by reason."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.lines: dict[int, Line] = {}
        self.skipped: Counter = Counter()
        self.notes: Counter = Counter()

    @property
    def full(self) -> bool:
        return len(self.lines) >= self.n

    def wanted(self) -> int:
        """Candidates to try next: what is missing plus a margin for rejects."""
        need = self.n - len(self.lines)
        return need + max(4, need // 20)


def _png(img: np.ndarray, pos: int, text: str, font: str, params: dict) -> Line:
    from aksar.data.render_pool import encode_png

    return Line(pos, text, font, encode_png(img), "png", (img.shape[1], img.shape[0]), params)


def _family_weights(families: list[str]) -> np.ndarray:
    """Probabilities giving every family the same share, whatever its number of faces."""
    count = Counter(families)
    w = np.array([1.0 / count[f] for f in families])
    return w / w.sum()


def _choose_font(out: _Set, text: str, fonts: list, gate, rng: np.random.Generator, gate_font=lambda f: f):
    """The first font, in a seeded order balanced over families, whose shaping gate passes (rejections
    counted), or None."""
    weights = _family_weights([gate_font(f).family for f in fonts])
    order = rng.choice(len(fonts), size=min(len(fonts), MAX_FALLBACK_FONTS), replace=False, p=weights)
    for k, j in enumerate(order):
        reason = gate.check(text, gate_font(fonts[int(j)]))
        if reason is None:
            if k:
                out.notes["font_fallback"] += 1
            return fonts[int(j)]
        out.notes[f"gate_rejected:{reason}"] += 1
    out.skipped["unrenderable"] += 1
    return None


def _raqm_set(cfg: EvalsetConfig, name: str, cands: Iterator[tuple[int, str]], fonts: list, gate,
              draw: Callable) -> _Set:
    """Lines drawn one by one with aksar's renderer by ``draw(text, font, rng) -> (img, params) | None``."""
    out = _Set(cfg.lines)
    for pos, text in cands:
        if out.full:
            break
        rng = rng_for(cfg.seed, name, pos)
        font = _choose_font(out, text, fonts, gate, rng)
        if font is None:
            continue
        drawn = draw(text, font, rng)
        if drawn is None:
            out.skipped["out_of_range"] += 1
            continue
        img, params = drawn
        out.lines[pos] = _png(img, pos, text, font.name, params)
    return out


def _pango_set(cfg: EvalsetConfig, name: str, cands: Iterator[tuple[int, str]], t2i, pfonts: list, gate,
               degrade: bool) -> _Set:
    """Lines rendered by text2image a page at a time (one font and size per page), cut out, box-checked."""
    from aksar.data.evalset_render import PageSpec, scan_degrade
    from aksar.data.readers import decode_image

    out = _Set(cfg.lines)
    if degrade:
        pfonts = [f for f in pfonts if not HAIRLINE_FACE.search(f[0])]
    while not out.full:
        batch: dict[str, list[tuple[int, str]]] = {}
        for pos, text in cands:
            choice = _choose_font(out, text, pfonts, gate, rng_for(cfg.seed, "pango", pos), lambda f: f[1])
            if choice is not None:
                batch.setdefault(choice[0], []).append((pos, text))
            if sum(map(len, batch.values())) >= out.wanted():
                break
        if not batch:
            break
        for font in sorted(batch):
            items = batch[font]
            for p in range(0, len(items), cfg.page_lines):
                page = items[p:p + cfg.page_lines]
                rng = rng_for(cfg.seed, name, "page", font, page[0][0])
                if degrade:
                    spec = PageSpec(font, int(rng.integers(cfg.degraded_ptsize[0], cfg.degraded_ptsize[1] + 1)),
                                    int(rng.integers(cfg.degraded_resolution[0], cfg.degraded_resolution[1] + 1)),
                                    degrade=True,
                                    exposure=int(rng.choice([-1, 0, 0] if HEAVY_FACE.search(font) else [-1, 0, 0, 1])))
                else:
                    spec = PageSpec(font, int(rng.integers(cfg.pango_ptsize[0], cfg.pango_ptsize[1] + 1)),
                                    cfg.pango_resolution)
                params = {"ptsize": spec.ptsize, "dpi": spec.resolution, "exposure": spec.exposure}
                for (pos, text), res in zip(page, t2i.render_page([t for _, t in page], spec)):
                    if res.image is None:
                        out.skipped[res.reason] += 1
                        continue
                    if degrade and (res.image < 128).mean() < MIN_INK_SHARE:
                        out.skipped["faded"] += 1
                        continue
                    out.notes["blank_box_clusters"] += res.blank_clusters
                    if degrade:
                        data, scan = scan_degrade(res.image, rng_for(cfg.seed, name, pos))
                        h, w = decode_image(data).shape
                        out.lines[pos] = Line(pos, text, font, data, "jpg", (w, h), {**params, **scan})
                    else:
                        out.lines[pos] = _png(res.image, pos, text, font, params)
    return out


class _Builder:
    """Everything the sets share: config, fonts, shaping gate, corpus test lines, text2image."""

    def __init__(self, cfg: EvalsetConfig, t2i) -> None:
        from aksar.data.evalset_sources import split_fonts
        from aksar.render.renderer import LineRenderer, RenderConfig
        from aksar.render.shaping import ShapingGate
        from aksar.text.corpus import read_split

        self.cfg, self.script, self.t2i = cfg, cfg.script, t2i
        self.training, self.heldout = split_fonts(cfg.script)
        self.gate = ShapingGate(cfg.script)
        self.clean = LineRenderer(RenderConfig(font_size=cfg.font_size), cfg.script)
        self.lines = read_split(cfg.corpus_dir, cfg.split) if set(cfg.sets) - {"domain"} else []
        if set(cfg.sets) - {"domain"} and not self.lines:
            raise AksarError(f"{Path(cfg.corpus_dir) / f'{cfg.split}.txt'}: no lines to build evaluation sets from")
        self.info: dict = {"training_fonts": [f.name for f in self.training],
                           "heldout_fonts": [f.name for f in self.heldout]}

    def cands(self, key: str) -> Iterator[tuple[int, str]]:
        from aksar.data.evalset_sources import corpus_candidates

        return corpus_candidates(self.lines, self.cfg.seed, key, self.cfg.min_length, self.cfg.max_length)

    def draw_clean(self, text: str, font, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        return self.clean.render(text, font), {"font_px": self.cfg.font_size}

    def draw_lowres(self, text: str, font, rng: np.random.Generator) -> tuple[np.ndarray, dict] | None:
        from aksar.data.evalset_render import render_lowres

        lo, hi = self.cfg.lowres_x_height
        img, params = render_lowres(text, font, float(rng.uniform(lo, hi)), self.script)
        return (img, params) if lo <= params["x_height_px"] <= hi else None

    def build(self, name: str) -> _Set:
        cfg = self.cfg
        if name == "heldout_fonts":
            out = _raqm_set(cfg, name, self.cands("corpus"), self.heldout, self.gate, self.draw_clean)
        elif name in ("pango", "degraded"):
            from aksar.data.evalset_sources import pango_fonts

            pf = pango_fonts(self.script, self.heldout, self.t2i.fonts())
            self.info["pango_fonts"] = [p[0] for p in pf]
            out = _pango_set(cfg, name, self.cands("corpus"), self.t2i, pf, self.gate, name == "degraded")
        elif name == "lowres":
            out = _raqm_set(cfg, name, self.cands("lowres"), self.training, self.gate, self.draw_lowres)
        else:  # domain
            from aksar.data.evalset_sources import domain_texts

            texts, self.info["domain"] = domain_texts(self.script, cfg.locale_dir, cfg.min_length, cfg.max_length)
            order = rng_for(cfg.seed, "evalset", "domain", "order").permutation(len(texts))
            out = _raqm_set(cfg, name, ((int(j), texts[int(j)]) for j in order), self.training, self.gate,
                            self.draw_clean)
        if not out.lines:
            raise AksarError(f"evaluation set {name}: no line could be rendered")
        return out


def _build_sets(cfg: EvalsetConfig) -> tuple[dict[str, _Set], dict]:
    from aksar.data.evalset_render import Text2Image
    from aksar.data.evalset_sources import split_fonts

    with Text2Image(split_fonts(cfg.script)[1]) as t2i:
        b = _Builder(cfg, t2i)
        return {name: b.build(name) for name in cfg.sets}, b.info


def _tool_versions() -> dict:
    import subprocess

    import PIL

    t2i = subprocess.run(["tesseract", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    return {"pillow": PIL.__version__, "tesseract": t2i}


def build_evalset(cfg: EvalsetConfig) -> dict:
    """Build the evaluation sets into ``cfg.output_dir`` (replaced only if it is an evalset)."""
    from aksar.text.charset import Charset
    from aksar.text.corpus import corpus_hash

    out = Path(cfg.output_dir)
    if out.exists() and any(out.iterdir()) and not (out / "manifest.json").is_file():
        raise AksarError(f"{out} exists and is not an evaluation set (no manifest.json); "
                         "choose another --output-dir or empty it")
    t0 = time.perf_counter()
    sets, info = _build_sets(cfg)
    charset_path = Path(cfg.corpus_dir) / "charset.txt"
    charset = Charset.load(charset_path) if charset_path.is_file() else None
    tmp = out.with_name(f".{out.name}.building")
    if tmp.exists():
        shutil.rmtree(tmp)
    files: dict[str, str] = {}

    def write(rel: str, data: bytes) -> None:
        atomic_write_bytes(tmp / rel, data)
        files[rel] = sha256_bytes(data)

    summary = {}
    for name, s in sets.items():
        (tmp / name / "images").mkdir(parents=True)
        chosen = [s.lines[p] for p in sorted(s.lines)][: s.n]
        samples = []
        for i, ln in enumerate(chosen):
            rel = f"images/{i:06d}.{ln.ext}"
            write(f"{name}/{rel}", ln.data)
            samples.append({"image_path": rel, "text": ln.text, "font": ln.font, "width": ln.size[0],
                            "height": ln.size[1], "source_line": ln.pos, **ln.params})
        tsv = "".join(f"{x['image_path']}\t{x['text']}\n" for x in samples)
        write(f"{name}/labels.tsv", tsv.encode("utf-8"))
        write(f"{name}/metadata.json", (json.dumps({"kind": KIND, "set": name, "samples": samples},
                                                   ensure_ascii=False, indent=1) + "\n").encode("utf-8"))
        unknown = Counter(c for x in samples for c in (charset.unknown(x["text"]) if charset else []))
        summary[name] = {"lines": len(samples), "short_of_target": s.n - len(samples),
                         "fonts": dict(sorted(Counter(x["font"] for x in samples).items())),
                         "skipped": dict(sorted(s.skipped.items())), "notes": dict(sorted(s.notes.items())),
                         "chars_outside_corpus_charset": dict(sorted(unknown.items()))}
    config = to_dict(cfg)
    for key in ("output_dir", "corpus_dir", "locale_dir"):
        config.pop(key)
    manifest = {"kind": KIND, "format_version": FORMAT_VERSION, "version": EVALSET_VERSION,
                "script": cfg.script, "seed": cfg.seed, "config": config,
                "corpus_hash": corpus_hash(cfg.corpus_dir) if set(cfg.sets) - {"domain"} else None,
                "tools": _tool_versions(), "fonts": info, "sets": summary, "files": dict(sorted(files.items()))}
    atomic_write_json(tmp / "manifest.json", manifest)
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {"output_dir": str(out), "version": EVALSET_VERSION, "sets": summary, "bytes": size,
            "elapsed_s": round(time.perf_counter() - t0, 1)}


def validate_evalset(directory: str | Path) -> dict:
    """Check every file against ``manifest.json`` (sha256, nothing missing, nothing unlisted).

    Returns a summary if all is well; raises AksarError naming every missing, modified or extra file.
    """
    from aksar.data.valset import raise_problems, read_set_json

    d = Path(directory)
    path = d / "manifest.json"
    manifest = read_set_json(path, "an evaluation set", "aksar evalset build")
    try:
        files = dict(manifest["files"])
        sets = dict(manifest["sets"])
    except (KeyError, TypeError, ValueError) as exc:
        raise AksarError(f"{path}: unreadable manifest ({exc})") from None
    problems = []
    for rel, digest in sorted(files.items()):
        p = d / rel
        if not p.is_file():
            problems.append(f"{p}: missing")
        elif sha256_file(p) != digest:
            problems.append(f"{p}: sha256 mismatch (corrupt or modified)")
    for p in sorted(d.rglob("*")):
        rel = p.relative_to(d).as_posix()
        if p.is_file() and rel != "manifest.json" and rel not in files:
            problems.append(f"{p}: not listed in manifest.json")
    for name, info in sets.items():
        tsv = d / name / "labels.tsv"
        if tsv.is_file():
            n = len(tsv.read_text(encoding="utf-8").splitlines())
            if n != info.get("lines"):
                problems.append(f"{tsv}: {n} lines, manifest says {info.get('lines')}")
    raise_problems("evaluation set", d, problems)
    return {"output_dir": str(d), "version": manifest.get("version"), "files": len(files),
            "sets": {k: v.get("lines") for k, v in sets.items()}, "ok": True}


__all__ = ["EvalsetConfig", "SETS", "EVALSET_VERSION", "build_evalset", "validate_evalset"]
