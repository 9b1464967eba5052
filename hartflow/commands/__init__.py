"""The typer sub-apps of `cli.py`: `data` (data sets) and `grid` (grid puzzles).

`cli.py` mounts them with `app.add_typer`; these modules never import `cli`.
"""
