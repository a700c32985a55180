"""Cluster launcher (submitit): fans (experiment x strategy x seed) out to SLURM GPU nodes. It only
decides where `vaal_core.ActiveLoop` runs, never what runs; a preempted job resumes from its run
directory. Arrives with its own issue."""
