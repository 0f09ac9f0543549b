"""The response models of ``aksar serve`` (its OpenAPI schema): the Document ones mirror ``Document.to_dict``."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WordOut(_Strict):
    value: str
    confidence: float
    polygon: list[list[float]] = Field(description="[[x, y], ...] in page pixels")
    geometry: list[list[float]] = Field(description="[[xmin, ymin], [xmax, ymax]] relative to the page")


class LineOut(_Strict):
    text: str
    confidence: float
    det_score: float
    polygon: list[list[float]]
    geometry: list[list[float]]
    words: list[WordOut]
    char_confidences: list[float] | None
    repaired: bool


class BlockOut(_Strict):
    polygon: list[list[float]]
    geometry: list[list[float]]
    lines: list[LineOut]


class PageOut(_Strict):
    page_idx: int
    dimensions: list[int] = Field(description="[height, width] in pixels")
    source: str
    source_page: int
    dpi: float | None
    blocks: list[BlockOut]


class DocumentOut(_Strict):
    schema_version: int = Field(alias="schema")
    models: dict[str, Any]
    pages: list[PageOut]


class RecognizedLine(_Strict):
    name: str = Field(description="the uploaded file's name (a label, never used as a path)")
    text: str
    confidence: float
    repaired: bool = Field(description="the decoded text needed an orthography repair")


class RecognizeOut(_Strict):
    lines: list[RecognizedLine]


class HealthOut(_Strict):
    status: Literal["ok"]
    version: str
    models: dict[str, Any] = Field(description="recognizer and detector (null: /ocr off), as Document.models")
    limits: dict[str, float | int]
    active: int = Field(description="requests being read now")
    queued: int = Field(description="requests waiting for a worker")


class ErrorOut(_Strict):
    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": what} for code, what in {
        413: "upload, image, pages or files over a limit", 415: "not an image or PDF",
        422: "corrupt upload or bad parameter", 503: "queue full, waited too long, or no detector",
        504: "reading took longer than timeout_s"}.items()}
