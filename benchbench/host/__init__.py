"""The machine a run trains on: the numerics mode (:mod:`.numerics`), the CPUs this process
owns and the threads it uses, how busy the machine is (:mod:`.cpus`), the device
(:mod:`.devices`) and the signals that stop a command (:mod:`.interrupts`)."""
