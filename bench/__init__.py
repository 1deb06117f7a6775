"""Benchmarks, run by hand (see README.md); nothing here is imported by the app unless
CARLIT_BENCH_URLS=1 mounts the raw-SQL counterparts in bench/urls.py."""
