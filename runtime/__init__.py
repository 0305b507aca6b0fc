"""The runtime floor: a job runs on an emulated chip, through one driver.

- :mod:`.job` reads a job file of any kind (:func:`~.job.load_job`); each kind registers its
  job class (:mod:`.rate_job`, :mod:`.spiking_job`) with :mod:`.experiment`, which holds the
  one experiment contract: ``init(key)``, ``chunk(state, n_steps, key)``, ``finish(state)``;
- :mod:`.loop` is the one driver (output checks and lock, checkpoints and resume, progress,
  Ctrl-C, the run file :mod:`.run_file`) for every kind (:mod:`.rate_experiment`,
  :mod:`.spiking_experiment`);
- :mod:`.data`: data sets and their download, spike workloads; :mod:`.report`: the summary
  and figures; :mod:`.scores`: what learned weights show.
It builds on every floor below (algorithms, compiler, crossbar, devices, hw_configs).
"""
