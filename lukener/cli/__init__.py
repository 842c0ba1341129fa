"""The command-line layer: each module parses one command, calls the core, renders."""
