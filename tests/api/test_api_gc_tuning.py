"""The serving process's garbage-collector tuning (setting ``gc_freeze``): frozen while the app runs, undone
when it stops, untouched when off."""

from __future__ import annotations

import gc

import pytest
from fastapi.testclient import TestClient

from leadflow.api.app import create_app
from leadflow.api.gctune import GEN0_THRESHOLD, restore_gc, tune_gc
from leadflow.settings import Settings


@pytest.fixture
def clean_gc():
    gc.unfreeze()
    before = gc.get_threshold()
    yield before
    gc.unfreeze()
    gc.set_threshold(*before)


def test_tune_freezes_the_live_objects_and_restore_undoes_it(clean_gc):
    assert gc.get_freeze_count() == 0
    state = tune_gc()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 1000  # the loaded modules, classes and functions of this process at least
        assert gc.get_threshold()[0] == max(GEN0_THRESHOLD, clean_gc[0])
        assert gc.get_threshold()[1:] == clean_gc[1:]
        fresh = [[i] for i in range(100)]  # tracked containers made after the freeze stay collectable
        assert gc.get_freeze_count() == frozen
        young = {id(o) for o in gc.get_objects(generation=0)}
        assert all(id(o) in young for o in fresh)
    finally:
        restore_gc(state)
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == clean_gc


@pytest.mark.parametrize("on", [True, False])
def test_the_app_tunes_while_it_runs_and_only_when_asked(tmp_path, clean_gc, on):
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/gc.db", secret_key="t", gc_freeze=on),
                     mount_web=False)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert (gc.get_freeze_count() > 0) is on
        assert (gc.get_threshold()[0] == max(GEN0_THRESHOLD, clean_gc[0])) is on
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == clean_gc
    app.state.db.dispose()
