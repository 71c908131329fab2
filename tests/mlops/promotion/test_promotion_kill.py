"""A promotion killed (SIGKILL) at each point where it changes state.

After the kill the release file, the history and the registry agree, or the journal
names the one release left to finish; the next promotion completes it, and then
promotions and rollbacks work as usual.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mlops.promotion import promote
from mlops.registry import history, local_registry, releases
from tests.mlops.promotion.promotion_support import FakeDeployer, Home

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[3]

_KILLED_PROMOTION = """
import importlib, os, signal, sys
from pathlib import Path
from tests.mlops.promotion.promotion_support import FakeDeployer
from mlops.promotion import promote
module_name, name = sys.argv[1].rsplit(".", 1)
module = importlib.import_module(module_name)
def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)
setattr(module, name, die)
promote.promote("stage", int(sys.argv[2]), FakeDeployer(), stage_data=Path(sys.argv[3]))
print("not killed")
"""

#: Where a stage promotion changes state; the kill lands on entry to each. Also killing at
#: releases.write_release (journal only) and history.finish (journal not yet removed)
#: passes; they are left out to keep the suite fast (each kill costs a fresh process).
KILL_POINTS = [
    "mlops.registry.local_registry.set_registry_tags",  # registry copy made, not yet tagged
    "mlops.registry.history.append_history",  # release file written, history not
]


def state(env: str) -> tuple[int | None, int | None]:
    return releases.load_release(env).model.version, history.current_version(env)


def assert_consistent() -> None:
    for env in releases.RELEASE_ENVIRONMENTS:
        released, current = state(env)
        assert history.pending(env) is None
        assert released == current, (env, released, current)
        if released is not None:
            entry = local_registry.registry_version(released)
            assert entry is not None and entry.stage_passed, entry


@pytest.mark.parametrize("point", KILL_POINTS, ids=lambda p: p.rsplit(".", 1)[1])
def test_promotion_killed_mid_way_is_completed_or_harmless(home: Home, point: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "data-science/src"), str(REPO)])}
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_PROMOTION, point, "3", str(home.stage_data)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    released, current = state("stage")
    journal = history.pending("stage")
    if journal is None:  # killed before the journal: nothing recorded, the release not made
        assert released == current is None
    else:  # the journal names what is still to do: release version 3
        assert journal.version == 3 and journal.entry.version == 3
        assert current in (None, 3) and released in (None, 3)

    # The next promotion (a different version) first completes the killed one.
    deployer = FakeDeployer()
    result = promote.promote("stage", 2, deployer, stage_data=home.stage_data)
    assert result.version == 2
    assert_consistent()
    stack = history.release_stack(history.read_history("stage"))
    assert stack == ([3, 2] if journal is not None else [2])
    if journal is not None:
        rolled = promote.rollback("stage", deployer)
        assert (rolled.left, rolled.restored) == (2, 3)
        assert_consistent()
        assert state("stage") == (3, 3)


def test_unreadable_journal_is_named_and_blocks_nothing_silently(home: Home) -> None:
    path = history.journal_path("stage")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{half")
    with pytest.raises(Exception, match="unreadable promotion journal") as caught:
        promote.promote("stage", 2, FakeDeployer(), stage_data=home.stage_data)
    assert str(path) in str(caught.value)
    assert state("stage") == (None, None)
