"""Is it still the same model, and still the same explanation?

Max sensitivity says how stable an explanation is; these say whether it is the one that was accepted.
The fingerprint (the model's target and top-5 logits on the image, and the input gradient of the target
logit) catches a changed model, preprocessing or backward pass in every case; the snapshot (the
channel-summed map at 56 x 56 with its magnitude, and the norm of each colour channel) catches a changed
method. Both are two-sided and compared at the numeric floor (:mod:`xai_eval.records.floors`); a map that
changed is classified against how far other seeds move it (``--xai-calibrate K``). See
:mod:`xai_eval.measure.similarity` and :mod:`xai_eval.measure.fingerprint`.
"""


def test_fingerprint(xai_case, xai_snapshots):
    xai_snapshots.check_fingerprint(xai_case)


def test_snapshot(xai_case, xai_snapshots):
    xai_snapshots.check_snapshot(xai_case)
