"""The shipped EfficientNet-Lite encoder with its BatchNorms folded into the convolutions."""

from __future__ import annotations

import copy

import torch
from efficientnet_lite_pytorch import EfficientNet

from anomalygpt_engine.backbones.efficientnet_lite import (
    EfficientNetLiteEncoder,
    fold_batch_norms,
    packaged_weights_path,
)


def test_folded_batch_norms_give_the_same_features():
    reference = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(packaged_weights_path("efficientnet-lite0"), map_location="cpu", weights_only=True)
    reference.load_state_dict(state, strict=False)
    reference.eval()
    folded = copy.deepcopy(reference)
    fold_batch_norms(folded)
    fold_batch_norms(folded)  # a second fold changes nothing
    encoder = EfficientNetLiteEncoder("efficientnet-lite0", (4, 14))
    for net in (folded, encoder.net):
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    batch = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = reference.extract_features(batch)
        for got in (folded.extract_features(batch), encoder.net.extract_features(batch)):
            assert (got - want).abs().max() < 1e-3 * want.abs().max()
    assert want.abs().max() > 0.1  # a real activation, not zeros on both sides
