"""New heads on real-trained backbones: the bundled ``fitness`` model's recipe and ``cognn-teach`` (actions learnt
from a few clips in seconds). ``clips`` reads clips as a backbone sees them (pose cached), ``augment`` makes
augmented copies, ``features`` computes what a continual model's head sees for whole clips, ``head`` fits a linear
head, ``learn`` joins them, ``build`` writes the checkpoint, ``folder`` is ``cognn-teach``'s job."""

#: augmented copies of each clip a taught head learns from (cognn-teach's default; the fitness recipe uses 8)
DEFAULT_COPIES = 4
