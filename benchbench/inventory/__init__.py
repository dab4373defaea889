"""What is installed: the plugin listing behind ``benchbench list`` (:mod:`.listing`, cached
so listing imports no plugin) and what ``benchbench show NAME`` says (:mod:`.describe`)."""
