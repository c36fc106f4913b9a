"""Benchmark scenarios and how to add one.

A scenario is registered with `register(Scenario(...))` in any module of this package (every module is
imported by `load_all()`), e.g. a later issue adds `bench/scenarios/imports.py`:

    from bench.scenarios import Scenario, Target, register

    def setup(ctx):                      # once, before the warm-up; ctx.api(...) calls the running app
        return {"segment": ctx.api("POST", "/api/v1/segments/", {...})["id"]}

    def request(ctx, state, worker, seq):  # one request: (method, path, JSON body or None)
        return "GET", f"/api/v1/segments/{state['segment']}/count/", None

    register(Scenario("S13", "segment count", request, setup=setup, concurrency=2,
                      targets=[Target("p95_ms", "<=", 50)]))

`worker` is the load thread's index (0..concurrency-1) and `seq` a per-scenario counter, so scenarios
can partition data between threads and never repeat a unique value.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Request = tuple[str, str, Any]


@dataclass(frozen=True)
class Target:
    metric: str  # p50_ms, p95_ms, p99_ms, sql_per_request, errors, cache_hit_rate, rps
    op: str  # "<=" or ">="
    value: float

    def label(self) -> str:
        unit = {"p50_ms": " ms", "p95_ms": " ms", "p99_ms": " ms", "cache_hit_rate": " %"}.get(self.metric, "")
        name = {"sql_per_request": "SQL", "cache_hit_rate": "hit rate", "errors": "errors"}.get(
            self.metric, self.metric.removesuffix("_ms"))
        shown = self.value * 100 if self.metric == "cache_hit_rate" else self.value
        return f"{name} {'≤' if self.op == '<=' else '≥'} {shown:g}{unit}"

    def met(self, figures: dict) -> bool | None:
        got = figures.get(self.metric)
        if got is None:
            return None
        return got <= self.value if self.op == "<=" else got >= self.value


@dataclass
class Scenario:
    key: str
    title: str
    request: Callable[..., Request]
    setup: Callable[..., Any] | None = None
    concurrency: int = 2
    duration: float | None = None  # seconds measured (None: the run's --duration)
    warmup: float | None = None  # seconds of warm-up (None: the run's --warmup)
    max_requests: int | None = None  # stop early after this many measured requests
    expect: tuple[int, ...] = (200, 201)
    targets: list[Target] = field(default_factory=list)
    order: int = 100
    optional: bool = False  # only run when named with --only


REGISTRY: dict[str, Scenario] = {}


def register(scenario: Scenario) -> Scenario:
    REGISTRY[scenario.key] = scenario
    return scenario


def load_all() -> list[Scenario]:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return sorted(REGISTRY.values(), key=lambda s: (s.order, s.key))
