"""Migration scripts; a package so setuptools ships them with desktop_app."""
