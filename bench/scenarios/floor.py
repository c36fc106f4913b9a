"""The floor comparison (`bench/run.py`, see docs/performance.md): every CRUD scenario against the bare DRF
app (`bench/bare/`) and the platform in one run. Two of them are defined here because the bare app has
no equivalent of the platform-only ones they stand beside (S2 changes two fields, S8 also searches emails,
phones and organization names); the others are the S-scenarios themselves."""
from __future__ import annotations

from bench.scenarios import Scenario, register
from bench.scenarios.contacts import API, _rows

LAST_NAMES = ("smith", "garcia", "rodriguez", "kowalski", "nguyen", "dubois", "mendez", "johnson", "martinez",
              "taylor")


def patch_one_request(ctx, state, worker, seq):
    row = state[seq % len(state)]
    return "PATCH", f"{API}/contacts/{row[0]}/", {"job_title": f"Title {seq}"}


register(Scenario("F2", "PATCH one field", patch_one_request, setup=lambda ctx: _rows(ctx, "s2", 5000, seed=11),
                  order=900, optional=True))

register(Scenario("F8", "search by last name",
                  lambda ctx, s, w, seq: ("GET", f"{API}/contacts/?search={LAST_NAMES[seq % len(LAST_NAMES)]}", None),
                  order=900, optional=True))

# (key, label, cached detail: the tighter ratio target) in the order they run: reads first, so no write of
# this comparison invalidates what the cached-detail run primed
FLOOR = (
    ("S4a", "detail (cached; bare: the same read)", True),
    ("S4b", "detail (cold)", False),
    ("S5", "list, first page of 50", False),
    ("F8", "search by last name", False),
    ("S1", "create", False),
    ("F2", "PATCH one field", False),
    ("S3", "PUT", False),
    ("S11", "status change", False),
)
