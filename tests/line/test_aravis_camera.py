"""GigE Vision through Aravis against `arv-fake-gv-camera-0.8` on 127.0.0.1 (the real protocol)."""

from __future__ import annotations

import numpy as np
import pytest

from desktop_app.line.aravis_camera import BAYER8, MONO8, MONO16, RGB8, CameraError, GigECamera, list_cameras, to_rgb

LOOPBACK = "127.0.0.1"


def strictly_newer(ids: list[int]) -> bool:
    """Each frame id after the previous one; GigE Vision 1.x block ids wrap at 16 bits (0 unused)."""
    return all((b - a) % 65535 > 0 for a, b in zip(ids, ids[1:]))


@pytest.fixture
def camera(fake_camera):
    cam = GigECamera(LOOPBACK, interface=LOOPBACK)  # unicast on loopback: no discovery broadcast
    yield cam
    cam.close()


def test_the_fake_camera_is_listed_by_address(fake_camera):
    (info,) = list_cameras([LOOPBACK])
    assert info.vendor == "Aravis" and info.model == "Fake" and info.address == LOOPBACK
    assert info.protocol == "GigEVision" and info.serial == "GV01"


def test_exposure_gain_and_pixel_formats(camera):
    assert {"Mono8", "Mono16", "RGB8", "BayerRG8"} <= set(camera.pixel_formats)
    camera.configure(exposure_us=2500, gain_db=3.0, pixel_format="Mono8", trigger="software")
    settings = camera.settings()
    assert settings["exposure_us"] == pytest.approx(2500) and settings["gain_db"] == pytest.approx(3.0)
    assert settings["pixel_format"] == "Mono8" and settings["trigger"] == "software"
    with pytest.raises(CameraError, match="not offered"):
        camera.configure(pixel_format="YUV422_8")


@pytest.mark.parametrize("pixel_format", ["Mono8", "Mono16", "RGB8", "BayerRG8"])
def test_software_trigger_gives_one_new_rgb_frame_per_trigger(fake_camera, pixel_format):
    cam = GigECamera(LOOPBACK, interface=LOOPBACK)
    try:
        cam.configure(pixel_format=pixel_format, trigger="software")
        frames = [cam.grab(timeout_s=3.0) for _ in range(3)]
    finally:
        cam.close()
    ids = [frame_id for _frame, frame_id in frames]
    assert strictly_newer(ids), f"a frame was delivered twice: {ids}"
    for frame, _id in frames:
        assert frame.shape == (512, 512, 3) and frame.dtype == np.uint8 and frame.std() > 0


def test_free_running_at_10_fps_gives_fresh_frames(camera):
    camera.configure(trigger="free", frame_rate=10, pixel_format="Mono8")
    camera.grab(timeout_s=3.0)
    ids = [camera.grab(timeout_s=3.0)[1] for _ in range(4)]
    assert strictly_newer(ids), ids


def test_hardware_trigger_waits_for_the_line(camera):
    camera.configure(trigger="Line0", pixel_format="Mono8")
    with pytest.raises(CameraError, match="no frame within"):
        camera.grab(timeout_s=0.5)  # nothing pulses Line0 on the fake camera: no frame, no stale one


def test_a_close_from_another_thread_waits_for_the_grab(camera):
    """Closing while a grab holds a buffer ends that grab cleanly; later grabs say the camera is closed."""
    import threading

    camera.configure(trigger="free", frame_rate=10, pixel_format="Mono8")
    camera.grab(timeout_s=3.0)
    errors: list[BaseException] = []
    frames: list[int] = []

    def grab_until_closed() -> None:
        while True:
            try:
                frames.append(camera.grab(timeout_s=3.0)[1])
            except CameraError as exc:
                assert "closed" in str(exc)
                return
            except BaseException as exc:  # an AttributeError here was the race
                errors.append(exc)
                return

    grabber = threading.Thread(target=grab_until_closed)
    grabber.start()
    threading.Event().wait(0.35)  # a few frames in, a grab is waiting for its buffer
    camera.close()
    grabber.join(timeout=10)
    assert not grabber.is_alive() and not errors and frames
    with pytest.raises(CameraError, match="closed"):
        camera.grab(timeout_s=0.5)


def test_pixel_conversions_without_a_camera():
    mono = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert (to_rgb(mono.tobytes(), 4, 3, MONO8)[:, :, 1] == mono).all()
    wide = (mono.astype("<u2") << 8).tobytes()
    assert (to_rgb(wide, 4, 3, MONO16)[:, :, 0] == mono).all()
    rgb = np.random.default_rng(0).integers(0, 255, (3, 4, 3), dtype=np.uint8)
    assert (to_rgb(rgb.tobytes(), 4, 3, RGB8) == rgb).all()
    for code in BAYER8:
        assert to_rgb(np.full((4, 4), 200, np.uint8).tobytes(), 4, 4, code).shape == (4, 4, 3)
    with pytest.raises(CameraError, match="not supported"):
        to_rgb(b"\0" * 16, 4, 4, 0x02100016)
