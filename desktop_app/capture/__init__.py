"""Image sources: the station camera (USB index, IP URL, video file, or `gige:` a GigE Vision camera),
a folder batch, a watched hot folder; GigE frames per PLC trigger are in gige.py."""

from __future__ import annotations

from desktop_app.capture.camera import CameraSource
from desktop_app.capture.folder import list_images
from desktop_app.capture.hot_folder import HotFolderWatcher

__all__ = ["CameraSource", "HotFolderWatcher", "list_images"]
