"""Django's Redis cache, except that an unreachable Redis reads as an empty cache.

Everything carlit keeps in the cache can be recomputed: request counts for the API's
rate limits, vocabulary codes, drawn charts and tables. Django's own backend raises
on every call while Redis is down, so each of those would fail its request; here a
read while Redis is down misses, a write is dropped, and a warning is logged. Rate
limits then count nothing until Redis is back.
"""

import functools
import logging

from django.core.cache.backends.redis import RedisCache
from redis import exceptions

logger = logging.getLogger(__name__)

UNREACHABLE = (exceptions.ConnectionError, exceptions.TimeoutError)


def _or(fallback):
    """The method, returning ``fallback(*args, **kwargs)`` while Redis is unreachable."""

    def wrap(method):
        @functools.wraps(method)
        def call(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except UNREACHABLE as error:
                logger.warning("cache unreachable (%s): %s", method.__name__, error)
                return fallback(*args, **kwargs)

        return call

    return wrap


def _default(key, default=None, *args, **kwargs):
    return default


class TolerantRedisCache(RedisCache):
    get = _or(_default)(RedisCache.get)
    get_many = _or(lambda *args, **kwargs: {})(RedisCache.get_many)
    has_key = _or(lambda *args, **kwargs: False)(RedisCache.has_key)
    add = _or(lambda *args, **kwargs: False)(RedisCache.add)
    set = _or(lambda *args, **kwargs: None)(RedisCache.set)
    set_many = _or(lambda data, *args, **kwargs: list(data))(RedisCache.set_many)
    touch = _or(lambda *args, **kwargs: False)(RedisCache.touch)
    delete = _or(lambda *args, **kwargs: False)(RedisCache.delete)
    delete_many = _or(lambda *args, **kwargs: None)(RedisCache.delete_many)
