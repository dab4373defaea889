"""Running: one run resolved and executed, a suite planned and dispatched to an executor,
with the machine's conditions, interrupts and code identity recorded."""
