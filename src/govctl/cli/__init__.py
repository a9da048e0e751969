"""The command line: thin typer commands that parse options, call one core function, pick a
reporter and return an exit code. ``main`` is the entry point (``govctl``, ``python -m
govctl``); ``help`` answers ``--help`` before typer is imported."""
