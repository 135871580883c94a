"""One module per group of routes, each exposing ``router``; registered in ``api/app.py``."""
