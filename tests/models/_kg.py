"""Small real KG stores built with knowledge.build_kg for tests."""
from __future__ import annotations

from pathlib import Path

from knowledge import KnowledgeGraph, build_kg

FRUIT_SPO = (
    "苹果\t类别\t水果\n"
    "苹果\t颜色\t红色\n"
    "苹果\t产地\t山东\n"
    "阿司匹林\t类别\t药物\n"
    "阿司匹林\t治疗\t头痛\n"
    "感冒\t症状\t发热\n"
    "胃出血\t类别\t疾病\n"
)


def make_kg(folder: Path, spo: str = FRUIT_SPO, name: str = "kg") -> KnowledgeGraph:
    """Write ``spo`` to ``folder/name.spo``, build the store and open it."""
    folder.mkdir(parents=True, exist_ok=True)
    src = folder / f"{name}.spo"
    src.write_text(spo, encoding="utf-8")
    build_kg([src], folder / f"{name}.sqlite", force=True)
    return KnowledgeGraph.open(folder / f"{name}.sqlite")
