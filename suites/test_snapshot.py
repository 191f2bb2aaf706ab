"""Is it still the same model, and still the same explanation?

Max sensitivity says how stable an explanation is; these say whether it is the one that was accepted.
The fingerprint (the model's target and top-5 logits on the image) catches a changed model or
preprocessing in every case; the snapshot (the channel-summed map at 56 x 56, float16) catches a changed
method. Both are two-sided. The snapshot's tolerance is calibrated like the max-sensitivity ones
(``--xai-calibrate K``, :mod:`xai_eval.measure.similarity`); the fingerprint's are fixed constants
(``LOGIT_RTOL``, ``LOGIT_ATOL`` in :mod:`xai_eval.measure.fingerprint`): a forward pass has no dice.
"""


def test_fingerprint(xai_case, xai_snapshots):
    xai_snapshots.check_fingerprint(xai_case)


def test_snapshot(xai_case, xai_snapshots):
    xai_snapshots.check_snapshot(xai_case)
