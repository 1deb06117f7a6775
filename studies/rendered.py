"""Pieces of HTML kept in Django's cache under a hash of everything they show.

Some pieces of the summary pages (the dashboard's charts and its table of every
disease × target group) take tens of milliseconds to draw, and change only when the
stored summaries do. Each is reduced first to plain data; the HTML drawn from that
data is cached under a hash of it, so equal data reuses the drawing and changed data
draws anew: nothing has to be invalidated. The cache is shared through Redis when
REDIS_CACHE_URL is set, per process otherwise.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.core.cache import cache
from django.utils.safestring import SafeString, mark_safe

# Redrawing is cheap enough that a day is long enough for a drawing nobody asks for.
CACHE_SECONDS = 24 * 3600

_anew = ContextVar("rendered_anew", default=False)


@contextmanager
def drawn_anew() -> Iterator[None]:
    """Within the block, cached() draws without reading the cache (and keeps what it
    draws): the benchmarks' pages 'afresh' measure a first request after a change."""
    token = _anew.set(True)
    try:
        yield
    finally:
        _anew.reset(token)


def cached(kind: str, data, draw: Callable[[], str]) -> SafeString:
    """``draw()``, or the HTML it returned before for equal ``data``. ``data`` must hold
    everything the drawing shows, as plain values (str, numbers, dates, tuples, lists,
    dicts), so that equal data pickles alike, or stand for it (a version of the data
    that every change moves). ``draw`` must return safe HTML.
    (While Redis is down, carlit.cache reads as empty: each page draws anew.)"""
    digest = hashlib.sha256(pickle.dumps(data, protocol=5)).hexdigest()
    key = f"rendered:{kind}:{digest}"
    html = None if _anew.get() else cache.get(key)
    if html is None:
        html = str(draw())
        cache.set(key, html, CACHE_SECONDS)
    return mark_safe(html)  # noqa: S308 - draw() returned safe HTML
