"""Tiny shared fixtures for model tests (hidden 32, 2 layers)."""
from __future__ import annotations

TEXTS = ["患者服用阿司匹林后胃出血", "我爱吃苹果哈", "感冒可以吃阿司匹林吗", "头痛发热是感冒的症状", "Apple 公司"]
