"""The ``difftest`` command: one module per subcommand, one error handler (:mod:`.main`)."""
