"""Cluster launcher (submitit): fans (strategy x seed) runs of one spec out as a SLURM job array,
local processes or in-process calls. It only decides where `vaal_core.ActiveLoop` runs, never what
runs: tasks write the same run directories as `python -m vaal_core run`, and a pre-empted or
cancelled task resumes from its run directory. Entry point: `python -m slurm.sweep`."""
