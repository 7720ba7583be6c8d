"""Real line services on loopback (127.0.0.1 only): a mosquitto broker and Aravis's fake GigE camera.

`.ci/run` installs them (apt-get: mosquitto, aravis-tools, gir1.2-aravis-0.8, python3-gi); where one
cannot be installed, the tests that need it skip and say which package is missing.
"""

from __future__ import annotations

import pytest

from desktop_app.line.local_services import FakeGigECamera, Mosquitto, find_program


@pytest.fixture
def broker(tmp_path):
    if find_program("mosquitto") is None:
        pytest.skip("mosquitto is not installed (Debian: apt-get install mosquitto); MQTT tests skipped")
    with Mosquitto(folder=tmp_path / "broker") as running:
        yield running


@pytest.fixture(scope="module")
def fake_camera():
    from desktop_app.line.aravis_camera import CameraError, load_aravis

    if find_program("arv-fake-gv-camera-0.8") is None:
        pytest.skip("arv-fake-gv-camera-0.8 is not installed (Debian: apt-get install aravis-tools)")
    try:
        load_aravis()
    except CameraError as exc:
        pytest.skip(str(exc))
    with FakeGigECamera() as camera:
        yield camera
