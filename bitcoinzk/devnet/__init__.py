"""Every component on embedded defaults in one process, and the scenario behind
`make demo`."""
