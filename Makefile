# The README's two commands. Each installs what is missing first (.ci/setup).
.PHONY: setup quickstart test

setup:
	.ci/setup

quickstart: setup
	rlgo study run studies/quickstart.toml

test: setup
	ruff check .
	python -m pytest
