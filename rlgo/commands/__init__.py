"""The ``rlgo`` subcommands, one module per group (:mod:`rlgo.cli` joins them). A command
parses its flags and calls an importable function of the package it runs; what it prints
is formatted there, beside what it formats. Nothing heavy is imported at module level, so
that ``rlgo --help`` stays fast."""
