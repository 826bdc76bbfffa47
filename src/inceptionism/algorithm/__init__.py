"""The algorithm: the octave loop and ascent step (``engine``), what is maximised
(``objectives``), the per-step shaping of gradient and image (``shaping``), and tiled gradients
for big images (``tiling``)."""
