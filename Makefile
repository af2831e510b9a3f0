# The README's two commands; each first installs what the machine lacks (.ci/run setup).
.PHONY: setup quickstart test

setup:
	.ci/run setup

quickstart: setup
	rlgo study run studies/quickstart.toml

test:
	.ci/run
