"""``agihub dev``: the whole stack on one machine, supervised, with nothing installed by hand."""
