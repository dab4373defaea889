"""What users run: a suite start to end and one configuration (:mod:`.session`), a suite's
runs claimed, placed and stored (:mod:`.dispatch`), a result set rerun to check it
(:mod:`.verify`) and the loader settings swept (:mod:`.loader_sweep`)."""
