"""The command line: one Typer sub-app per noun, wired in app.py."""
