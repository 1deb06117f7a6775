"""Request rates per client, counted in the default cache (Redis when REDIS_CACHE_URL
is set, so every web process counts against the same limit).

DRF's classes read their rates once at import; these read them on every request so
that settings changes (tests, REST_FRAMEWORK overrides) take effect. While the cache
cannot be reached, requests are let through uncounted: an open-data API that answers
every request with an error because its counter is down serves no one.
"""

import logging

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

logger = logging.getLogger(__name__)


class _CountedInTheCache:
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except Exception:  # noqa: BLE001 - any cache backend's connection error
            logger.warning("cache unreachable: %s request not counted", self.scope)
            return True


class AnonymousThrottle(_CountedInTheCache, AnonRateThrottle):
    pass


class TokenThrottle(_CountedInTheCache, UserRateThrottle):
    pass
