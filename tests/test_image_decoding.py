"""Every Pillow mode and numpy layout decodes to 8-bit dark ink on light paper (or a one-line refusal).

A real rendered Khmer line (dark ink on white) is stored in each mode as a real file, read back through
the one decoder (``load_image`` for ``aksar predict``, ``decode_image`` for datasets, ``to_gray`` for
arrays given to ``Recognizer.predict``) and compared with the original.
"""
from __future__ import annotations

import numpy as np
import pytest
from fixtures.models import render_khmer
from PIL import Image

from aksar.core.errors import AksarError
from aksar.data.preprocess import to_gray
from aksar.data.readers import BadImage, decode_image
from aksar.infer.images import load_image


@pytest.fixture(scope="module")
def line() -> np.ndarray:
    """uint8 HxW: dark Khmer text on white, with real anti-aliased edges."""
    img = render_khmer(["កេខគង"])[0]
    assert img.min() < 40 and img.max() == 255
    return img


def _assert_reads_as(decoded: np.ndarray, ref: np.ndarray, tol: int = 2) -> None:
    assert decoded.dtype == np.uint8 and decoded.shape == ref.shape
    diff = np.abs(decoded.astype(int) - ref.astype(int))
    assert diff.max() <= tol, f"max difference {diff.max()} (ink mean {decoded[ref < 60].mean():.0f})"


def _rgba(color, ink: np.ndarray) -> np.ndarray:
    """Text of one colour on a fully transparent background: the ink is the alpha channel."""
    out = np.zeros(ink.shape + (4,), np.uint8)
    out[..., :3] = color
    out[..., 3] = 255 - ink
    return out


def _files(line: np.ndarray, folder) -> dict[str, tuple]:
    """name -> (path, expected mode when reopened, expected decoded image)."""
    binary = np.where(line < 128, 0, 255).astype(np.uint8)
    made: dict[str, tuple] = {}

    def save(name: str, im: Image.Image, expect: np.ndarray, mode: str | None = None, **kw) -> None:
        path = folder / name
        im.save(path, **kw)
        made[name] = (path, mode or im.mode, expect)

    save("one_bit.png", Image.fromarray(binary).convert("1", dither=Image.Dither.NONE), binary)
    save("gray.png", Image.fromarray(line), line)
    save("gray_alpha.png", Image.fromarray(np.stack([line, np.full_like(line, 255)], -1), "LA"), line)
    save("alpha_ink_gray.png", Image.fromarray(np.stack([np.zeros_like(line), 255 - line], -1), "LA"), line)
    pal = Image.fromarray(binary).convert("P")
    white = pal.getpixel((0, 0))
    save("palette_transparent.png", pal, binary, transparency=white)
    save("palette.png", Image.fromarray(binary).convert("P"), binary)
    save("rgb.png", Image.fromarray(np.stack([line] * 3, -1)), line)
    save("rgba_black_on_transparent.png", Image.fromarray(_rgba((0, 0, 0), line)), line)
    save("rgba_yellow_on_transparent.png", Image.fromarray(_rgba((255, 220, 0), line)), line)
    save("rgba_white_on_transparent.png", Image.fromarray(_rgba((255, 255, 255), line)), line)
    # An opaque white card with black text, between transparent (black) borders: composited over white.
    card = np.pad(np.stack([line] * 3 + [np.full_like(line, 255)], -1), ((0, 0), (6, 6), (0, 0)))
    save("rgba_card.png", Image.fromarray(card), np.pad(line, ((0, 0), (6, 6)), constant_values=255))
    save("gray16.png", Image.fromarray(line.astype(np.uint16) * 257), line, mode="I;16")
    save("int32.tif", Image.fromarray(line.astype(np.int32) * 257, "I"), line)
    save("float01.tif", Image.fromarray(line.astype(np.float32) / 255.0, "F"), line)
    save("float255.tif", Image.fromarray(line.astype(np.float32), "F"), line)
    save("cmyk.tif", Image.fromarray(np.stack([line] * 3, -1)).convert("CMYK"), line)
    return made


def test_every_pillow_mode_decodes_to_dark_ink_on_light_paper(line, tmp_path):
    files = _files(line, tmp_path)
    for name, (path, mode, expect) in files.items():
        with Image.open(path) as im:
            assert im.mode == mode, f"{name}: the test file has mode {im.mode}, meant {mode}"
        try:
            _assert_reads_as(load_image(path), expect)
            _assert_reads_as(decode_image(path), expect)
            _assert_reads_as(decode_image(path.read_bytes()), expect)  # LMDB values
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None


def test_numpy_layouts_decode_like_the_uint8_image(line):
    rgb = np.stack([line] * 3, -1)
    cases = {
        "uint8 HxW": line, "uint8 HxWx1": line[..., None], "uint8 HxWx3": rgb,
        "uint8 HxWx4 opaque": np.concatenate([rgb, np.full_like(line, 255)[..., None]], -1),
        "uint8 HxWx4 alpha ink": _rgba((200, 30, 30), line),
        "uint8 HxWx2 alpha ink": np.stack([np.zeros_like(line), 255 - line], -1),
        "uint16 HxW": line.astype(np.uint16) * 257, "uint16 HxWx3": rgb.astype(np.uint16) * 257,
        "float32 [0,1]": line.astype(np.float32) / 255.0, "float64 [0,1] HxWx3": rgb / 255.0,
        "float32 [0,255]": line.astype(np.float32), "int64 [0,255]": line.astype(np.int64),
    }
    for name, arr in cases.items():
        try:
            _assert_reads_as(to_gray(arr), line)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None
    binary = line >= 128
    _assert_reads_as(to_gray(binary), np.where(binary, 255, 0).astype(np.uint8))


@pytest.mark.parametrize("bad, message", [
    (np.full((4, 9), np.nan, np.float32), "NaN"),
    (np.zeros((2, 4, 9, 3), np.uint8), "shape"),
    (np.zeros((4, 9, 5), np.uint8), "shape"),
    (np.linspace(-1, 1, 36, dtype=np.float32).reshape(4, 9), "neither"),
    (np.full((4, 9), 1000, np.int32), "outside 0..255"),
    (np.zeros((4, 9), np.complex64), "unsupported"),
])
def test_undecodable_arrays_are_refused_in_one_line(bad, message):
    with pytest.raises(AksarError, match=message) as exc:
        to_gray(bad, "image 3")
    assert str(exc.value).startswith("image 3: ") and "\n" not in str(exc.value)


def test_undecodable_file_is_a_counted_bad_image(tmp_path):
    path = tmp_path / "nan.tif"
    Image.fromarray(np.full((8, 20), np.nan, np.float32), "F").save(path)
    with pytest.raises(BadImage) as exc:
        decode_image(path)
    assert exc.value.reason == "undecodable_image"
    with pytest.raises(AksarError, match=f"{path.name}.*NaN"):
        load_image(path)
