"""The transformer: its KV cache under batching and left padding, its presets and cost."""
from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from tunesmith.errors import ModelError
from tunesmith.model import (PRESETS, ModelConfig, TransformerLM, count_params,
                             estimate_flops_per_token, left_pad)

VOCAB = 97


@pytest.fixture(scope="module")
def model() -> TransformerLM:
    torch.manual_seed(0)
    model = TransformerLM(ModelConfig.preset("tiny", vocab_size=VOCAB, context_length=64))
    # Random weights of the initial scale would make every logit nearly equal; larger ones
    # make the comparisons below sensitive to any wrong position or mask.
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= 2:
                p.normal_(0.0, 0.2)
    return model.eval()


def sequences(lengths, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randint(1, VOCAB, (n,), generator=gen).tolist() for n in lengths]


def test_cached_prefill_and_decode_match_full_forward_for_a_left_padded_batch(model):
    seqs = sequences([7, 19, 12, 1 + 3])
    decode_steps = 3
    prompts = [s[:-decode_steps] for s in seqs]
    ids, mask = left_pad(prompts, pad_id=0)
    assert mask.sum(1).tolist() == [len(p) for p in prompts]

    logits, cache = model.prefill(ids, mask, max_length=32)
    cached = [logits]
    for j in range(decode_steps):
        next_ids = torch.tensor([s[len(s) - decode_steps + j] for s in seqs])
        cached.append(model.step(next_ids, cache))

    with torch.no_grad():
        for row, seq in enumerate(seqs):
            alone = model(torch.tensor([seq]))[0]  # each sequence on its own, no padding
            for j in range(decode_steps + 1):
                expected = alone[len(seq) - decode_steps - 1 + j]
                torch.testing.assert_close(cached[j][row], expected, rtol=1e-5, atol=1e-5)
    assert cache.length == ids.shape[1] + decode_steps
    assert cache.next_position.tolist() == [len(s) for s in seqs]


def test_prefill_in_chunks_with_padding_matches_one_prefill(model):
    seqs = sequences([10, 16], seed=2)
    ids, mask = left_pad(seqs)
    whole, _ = model.prefill(ids, mask)
    cache = model.new_cache(2, 32)
    with torch.no_grad():
        model(ids[:, :9], cache, mask[:, :9])
        chunked = model(ids[:, 9:], cache, mask[:, 9:])[:, -1]
    torch.testing.assert_close(chunked, whole, rtol=1e-5, atol=1e-5)


def test_padding_rows_stay_finite_and_cache_limits_are_enforced(model):
    ids, mask = left_pad([[5], [1, 2, 3, 4, 5, 6]])
    logits, cache = model.prefill(ids, mask, max_length=7)
    assert torch.isfinite(logits).all()
    assert torch.isfinite(cache.keys).all()
    model.step(torch.tensor([1, 2]), cache)
    with pytest.raises(ModelError, match="do not fit"):
        model.step(torch.tensor([1, 2]), cache)
    with pytest.raises(ModelError, match="context length"):
        model.new_cache(1, model.config.context_length + 1)


def test_generate_samples_a_batch_of_prompts_of_different_lengths(model):
    gen = torch.Generator().manual_seed(0)
    out = model.generate([[3, 4, 5], [6]], max_new_tokens=10, top_k=5, generator=gen)
    assert out.shape == (2, 10)
    assert ((out >= 0) & (out < VOCAB)).all()
    # Greedy decoding of a padded prompt continues it exactly as it would alone.
    greedy = model.generate([[3, 4, 5], [6]], 6, temperature=1e-9)
    alone = model.generate([[6]], 6, temperature=1e-9)
    assert greedy[1].tolist() == alone[0].tolist()


def test_training_forward_is_causal(model):
    ids = torch.tensor([sequences([20], seed=3)[0]])
    changed = ids.clone()
    changed[0, 15:] = (changed[0, 15:] % (VOCAB - 1)) + 1
    with torch.no_grad():
        a, b = model(ids), model(changed)
    assert a.shape == (1, 20, VOCAB)  # the embedding rows padded to 64 are cut off
    torch.testing.assert_close(a[0, :15], b[0, :15])
    assert not torch.allclose(a[0, 15:], b[0, 15:])


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_presets_count_their_parameters(name):
    config = ModelConfig.preset(name, vocab_size=700)
    model = TransformerLM(config)
    assert model.num_params() == count_params(config)
    # no separate output matrix: the output layer is the embedding
    assert set(model.state_dict()) == {n for n, _ in model.named_parameters()}


def test_preset_sizes_fit_their_purpose():
    tiny = count_params(ModelConfig.preset("tiny", vocab_size=700))
    small = count_params(ModelConfig.preset("small", vocab_size=700))
    assert tiny < 200_000
    assert small * 4 < 25_000_000  # float32 safetensors of the default model under 25 MB
    for name in ("gpu-50m", "gpu-120m", "gpu-300m"):
        params = count_params(ModelConfig.preset(name, vocab_size=700))
        assert 50e6 <= params <= 350e6, (name, params)
        assert ModelConfig.preset(name, vocab_size=700).head_dim in (64, 128)
    assert list(PRESETS)[:2] == ["tiny", "small"]


def test_flops_estimate_matches_counted_matrix_products():
    config = ModelConfig.preset("tiny", vocab_size=300, context_length=128)
    model = TransformerLM(config)
    ids = torch.randint(0, 300, (2, 128))
    with FlopCounterMode(display=False) as counter:
        model(ids).sum().backward()
    counted = counter.get_flop_counts()["Global"][torch.ops.aten.mm]
    attention = 12 * config.n_layers * config.d_model * 128
    estimated = (estimate_flops_per_token(config, 128) - attention) * ids.numel()
    assert abs(counted - estimated) / estimated < 0.01
    causal = estimate_flops_per_token(config, 128, causal=True)
    assert causal == estimate_flops_per_token(config, 128) - attention / 2


def test_bad_configs_raise_model_errors():
    with pytest.raises(ModelError, match="multiple of n_heads"):
        ModelConfig(d_model=100, n_heads=3)
    with pytest.raises(ModelError, match="unknown model preset"):
        ModelConfig.preset("huge")
    with pytest.raises(ModelError, match="unknown model config keys"):
        ModelConfig.from_dict({"d_model": 64, "colour": "blue"})
    with pytest.raises(ModelError, match="must be a number"):
        ModelConfig.from_dict({"d_model": "64"})
    with pytest.raises(ModelError, match="at least one token"):
        left_pad([[1], []])


def test_static_decode_step_matches_the_dynamic_one_for_a_left_padded_batch():
    """step_static (the CUDA-graph path) gives step's logits and leaves the same cache."""
    from tunesmith.model import left_pad

    torch.manual_seed(0)
    model = TransformerLM(ModelConfig.preset("tiny", vocab_size=100, context_length=64)).eval()
    ids, mask = left_pad([[1, 5, 7, 9], [1, 3]])
    with torch.inference_mode():
        _, dynamic = model.prefill(ids, mask, max_length=20)
        _, static = model.prefill(ids, mask, max_length=20)
        tokens = torch.tensor([4, 6])
        for _ in range(6):
            expected = model.step(tokens, dynamic)
            got = model.step_static(tokens, static)
            torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
            tokens = expected.argmax(-1)
        assert torch.equal(static.next_position, dynamic.next_position)
        assert int(static.slot) == dynamic.length
