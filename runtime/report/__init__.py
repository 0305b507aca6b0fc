"""What a person reads of a run, a device or a tile: the summary table and the PNG figures
(run plots, device and crossbar figures). Figures only: nothing here trains or books energy."""
