"""Image sources: an OpenCV camera (USB index or IP URL), a folder batch, a watched hot folder."""

from __future__ import annotations

from desktop_app.capture.camera import CameraSource
from desktop_app.capture.folder import list_images
from desktop_app.capture.hot_folder import HotFolderWatcher

__all__ = ["CameraSource", "HotFolderWatcher", "list_images"]
