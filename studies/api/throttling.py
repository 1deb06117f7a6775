"""Request rates per client, counted in the default cache (Redis when REDIS_CACHE_URL
is set, so every web process counts against the same limit).

DRF's classes read their rates once at import; these read them on every request so
that settings changes (tests, REST_FRAMEWORK overrides) take effect. While Redis is
down, carlit.cache reads as empty and drops writes: requests then pass uncounted.
"""

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class AnonymousThrottle(AnonRateThrottle):
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class TokenThrottle(UserRateThrottle):
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
