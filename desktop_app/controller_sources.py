"""The controller's image sources: image lists and folders, the camera, the hot folder.

A mixin of InspectionController, kept apart so each file stays readable; it uses the controller's
`inspect()`, `window`, `settings`, `camera` and `hot_folder`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from desktop_app.capture import list_images
from desktop_app.references import demo_test_images
from desktop_app.widgets.reference_manager import IMAGE_FILTER


class SourcesMixin:
    def set_images(self, paths: list[Path], index: int = -1) -> None:
        self.images, self.index = list(paths), index

    def step(self, delta: int) -> None:
        """Next/previous image of the current list (a folder, or the demo samples on first run).

        Browsing never counts twice: an image inspected in this session shows its recorded result;
        only one not yet inspected is inspected. The list does not wrap round (Re-inspect is explicit)."""
        if not self.images:
            self.set_images(demo_test_images())
        if not self.images:
            self.window.show_message("No image list: open an image or a folder first")
            return
        target = max(0, self.index + delta) if self.index >= 0 or delta > 0 else 0
        if target >= len(self.images):
            self.window.show_message(
                f"End of the list: all {len(self.images)} image(s) visited. Open more images, or Re-inspect (Ctrl+I)")
            return
        if target == self.index and delta < 0:
            self.window.show_message("First image of the list")
            return
        self.index = target
        self.show_or_inspect(self.images[target])

    def show_or_inspect(self, path: Path) -> None:
        """The recorded result when this session already inspected `path`, else inspect it once."""
        key = Path(path)
        seen = self.seen.get(key)
        if key in self.in_flight:
            self.window.show_message(f"{key.name} is being inspected…")
        elif seen is not None and seen[0] in self.records:
            self._show(self.records[seen[0]], recorded=True)
            self.window.show_message(f"{key.name}: result recorded earlier in this session (Ctrl+I re-inspects)")
        elif seen is not None:
            self.window.banner.show_ready(f"{key.name}: {seen[1].value}, inspected earlier in this session")
            self.window.show_message(
                f"{key.name} was inspected earlier (result no longer on screen; Ctrl+I re-inspects)")
        elif key in self.failed:
            self._show_failure(self.failed[key], key)
        else:
            self.inspect(key, "file")

    def capture_or_next(self) -> None:
        """Space: a camera frame when the camera runs, else the next image of the list."""
        if self.camera.is_open:
            frame = self.camera.capture()
            if frame is None:
                self.window.show_message("No camera frame yet")
            else:
                self.inspect(frame, "camera")
        else:
            self.step(+1)

    def inspect_folder(self, folder: Path):  # type: ignore[no-untyped-def]
        paths = list_images(folder)
        if not paths:
            self.window.show_message(f"No images in {folder}")
            return None
        if not self._ready():
            return None
        self.set_images(paths)
        return self.inspect_paths(paths, "batch")

    def _open_image_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open image", "", IMAGE_FILTER)
        if path:
            self.set_images([Path(path)], 0)
            self.inspect(Path(path), "file")

    def _open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Inspect every image in a folder")
        if folder:
            self.inspect_folder(Path(folder))

    # -- camera and hot folder -------------------------------------------------------------
    def toggle_camera(self) -> None:
        if self.camera.is_open:
            self.camera.close()
            self._camera_stopped("Camera stopped")
        else:
            self.window.show_message(f"Opening camera {self.settings.camera_source}…")
            self.camera.open(self.settings.camera_source_value())

    def _camera_stopped(self, message: str) -> None:
        self.window.controls.set_camera_running(False)
        self.window.action("continuous").setChecked(False)
        self.window.show_message(message)

    def set_continuous(self, on: bool) -> None:
        if on:
            self.continuous.start(max(100, self.settings.continuous_interval_ms))
        else:
            self.continuous.stop()

    def _continuous_tick(self) -> None:
        """Inspect the newest frame unless the previous one is still in the worker's queue."""
        if self.camera.is_open and self.pending == 0 and self.batch_request is None:
            frame = self.camera.capture()
            if frame is not None:
                self.inspect(frame, "camera")

    def set_hot_folder(self, on: bool) -> None:
        folder = self.settings.hot_folder
        if on and not self.hot_folder.is_watching and (not folder or not self.hot_folder.start(folder)):
            if not folder:
                self.window.show_message("Set a hot folder in File ▸ Settings first")
            self.window.controls.hot_button.setChecked(False)
            return
        if not on:
            self.hot_folder.stop()
        controls = self.window.controls
        controls.hot_button.setText("Stop watching" if on else "Watch hot folder")
        controls.hot_label.setText(self._hot_folder_text())
        if on and self.hot_folder.waiting:
            return  # the watcher said why it waits; that line stays
        self.window.show_message(f"Watching {folder} for new images" if on else "Hot folder off")

    def rearm_hot_folder(self) -> bool:
        """After a restart: watch the hot folder again if it was watched when the station stopped.
        A folder not there yet (a share still mounting) is waited for, not given up."""
        folder = self.settings.hot_folder
        if not folder or self.hot_folder.is_watching:
            return False
        self.hot_folder.start(folder, wait_if_missing=True)
        self.window.controls.hot_button.setChecked(True)  # set_hot_folder finds it armed
        if not self.hot_folder.waiting:
            self.window.show_message(f"Hot folder re-armed after the restart: watching {folder}")
        return True

    def _hot_folder_text(self) -> str:
        folder = self.settings.hot_folder
        if not folder:
            return "No hot folder set (File ▸ Settings)"
        if self.hot_folder.is_watching and self.hot_folder.waiting:
            return f"{folder}  ·  <span style='color:#ffb74d'>folder gone: waiting for it to come back</span>"
        return folder

    def _hot_folder_failed(self, message: str) -> None:
        """A folder that vanished keeps the watcher armed (it waits); anything else disarms it."""
        if not self.hot_folder.is_watching:
            self.window.controls.hot_button.setChecked(False)
        self.window.controls.hot_label.setText(self._hot_folder_text())
        self.window.show_message(message)

    def _hot_folder_restored(self, message: str) -> None:
        self.window.controls.hot_label.setText(self._hot_folder_text())
        self.window.show_message(message)
