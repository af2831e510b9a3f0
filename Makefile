# The README's two commands; each first installs what the machine lacks (.ci/run setup
# makes .venv; .ci/run makes a fresh .venv-ci for the tests).
.PHONY: setup quickstart test

setup:
	.ci/run setup

quickstart: setup
	.venv/bin/rlgo study run studies/quickstart.toml

test:
	.ci/run
