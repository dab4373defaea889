"""From names to runs: suite files parsed and expanded into run specs (:mod:`.suite`), a spec
resolved from component names with every default, value and combination checked
(:mod:`.resolve`, :mod:`.checks`), what tuning a candidate means (:mod:`.targets`), tasks a
suite file declares from own data (:mod:`.declared`) and the data checked before anything
trains (:mod:`.data_check`)."""
